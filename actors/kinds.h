/*  Every actor kind, one line each: SL_ACTOR(symbol). A new kind is one
    folder under actors/ exporting `const sl_actor_kind_t sl_actor_<symbol>`
    plus one line here. Keep in name order. */
SL_ACTOR(blackhole)
SL_ACTOR(generate)
SL_ACTOR(http_api)
SL_ACTOR(http_ingest)
SL_ACTOR(jsonl_in)
SL_ACTOR(jsonl_out)
SL_ACTOR(lineage_walker)
SL_ACTOR(montecarlo_poll)
SL_ACTOR(relay)
SL_ACTOR(schema_check)
SL_ACTOR(store)
SL_ACTOR(transform)
SL_ACTOR(zmq_ingest)
