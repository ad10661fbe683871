/*  sluice/engine.h: runs the actors of a validated plan.

    Each actor instance (one per worker) is a CZMQ zactor thread. The engine
    owns every socket: an instance's input is one PULL socket bound to
    inproc://sl/<actor>/<generation>/<worker> (and, when an upstream runs on
    another node, to tcp://<node host>:<port>); each output holds one PUSH
    socket per worker of each consumer, and an event goes to the worker
    chosen by hash(tenant, key), so one key's events stay in order.

    Events travel in batches (one msgpack array per ZeroMQ message); a batch
    is sent when it is full or as soon as the instance has no more input to
    read, so an idle pipeline has no added latency and a busy one pays per
    batch, not per event. Send high-water marks give back-pressure: a full
    downstream queue blocks the sender. Outputs flagged durable (change logs)
    never block: their followers catch up from the log by cursor.

    End of stream: a source that is done, or asked to stop, sends an
    end-of-stream control message to every consumer instance; an instance
    that has seen end-of-stream from every upstream instance it waits for
    drains, calls exit, and passes it on. Inside a cycle through a durable
    output the edge back into the cycle is not waited for, so draining
    always ends.

    Journal marks (include/sluice/actor.h, docs/ingest.md): a marking
    source's marks are control messages too, sent after the events they
    follow, passed on by every actor with outputs (along non-durable
    links) once every upstream instance carrying that source's events sent
    it, and handed to a confirming kind (the store). Its confirmation goes
    into the source's journal directly in this process, or back over TCP
    to the source's input when the source runs on another node (the
    source then binds its TCP port). */
#ifndef SLUICE_ENGINE_H
#define SLUICE_ENGINE_H

#include "sluice/metrics.h"
#include "sluice/topology.h"

typedef struct sl_engine sl_engine_t;

/*  `node` NULL runs every actor of every node in this process (all links
    inproc); otherwise only the actors of that node. */
sl_engine_t *sl_engine_new(const char *node, sl_metrics_t *metrics);

/*  Start every actor instance of the plan (takes ownership of *plan).
    Returns SL_OK once every instance signalled ready; if an instance's init
    fails, stops all started ones and returns SL_EINVAL with the reason in
    err (the actor also logs it). */
int sl_engine_start(sl_engine_t *e, sl_plan_t **plan, char *err, size_t errlen);

/*  Apply a new validated plan (takes ownership): stop removed actors, start
    new ones, restart changed ones (fingerprint differs), relink the ones
    that stay without losing their events. On failure to start a new actor
    the rest of the new plan is still applied and SL_EINVAL returned. */
int sl_engine_reload(sl_engine_t *e, sl_plan_t **plan, char *err, size_t errlen);

/*  Ask sources to stop: the pipeline then drains (non-blocking). */
void sl_engine_drain(sl_engine_t *e);

/*  Wait up to timeout_ms for news from actor instances (or for extra_fd,
    if >= 0, to become readable) and process it. Returns 1 if extra_fd is
    readable, 0 otherwise. */
int sl_engine_poll(sl_engine_t *e, int timeout_ms, int extra_fd);

/*  1 once every instance has finished (drained and exited). */
int sl_engine_finished(const sl_engine_t *e);

/*  Number of running (not finished) instances. */
int sl_engine_running(const sl_engine_t *e);

/*  Stop every instance that is left ($TERM) and free everything. */
void sl_engine_destroy(sl_engine_t **e);

#endif
