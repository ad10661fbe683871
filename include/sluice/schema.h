/*  sluice/schema.h: event body schemas, their validators and compatibility.

    A schema is a file (YAML or JSON) in a JSON Schema subset:
      type, properties, required, enum, const, pattern (POSIX extended
      regular expression, unanchored like JSON Schema), minLength /
      maxLength (UTF-8 code points), minimum / maximum, items, minItems /
      maxItems, additionalProperties (bool or schema), $ref to
      "#/$defs/NAME" (or "#/definitions/NAME", or "#") inside the file,
      format (date-time, uuid, uri, email); annotations title,
      description, default, examples, $comment, $schema, $id.
    An unknown keyword is an error (a typo never weakens a schema). The
    top-level map may also hold `name` and `version` (a positive integer),
    which the registry requires, and `compatibility` (backward, forward,
    full, none; default backward): how this version must relate to the
    previous one. docs/schemas.md is the reference.

    A schema compiles once into a validator tree that walks a msgpack value
    directly with a bounds-checked reader: no JSON round trip, no
    allocation per validation. A compiled schema is immutable, so any
    number of threads may validate with it at once. */
#ifndef SLUICE_SCHEMA_H
#define SLUICE_SCHEMA_H

#include "sluice/common.h"
#include "sluice/event.h"

typedef struct sl_schema sl_schema_t;
typedef struct sl_schema_registry sl_schema_registry_t;

/*  Bounds: a schema file larger than this, or nested deeper, is refused. */
#define SL_SCHEMA_MAX_BYTES (1u << 20)
#define SL_SCHEMA_MAX_DEPTH 64

/*  Compile a schema from text[0..len): JSON when the first non-blank
    byte is '{', YAML otherwise. `origin` names the text in messages (a
    file name; may be NULL). Returns the schema, or NULL with a one-line
    reason in err (errlen bytes, always NUL-terminated) such as
    "x.yaml: properties.severity.enum: expected a non-empty array". */
sl_schema_t *sl_schema_compile(const char *text, size_t len, const char *origin, char *err,
                               size_t errlen);
/*  Read and compile one file. NULL with a reason on error. */
sl_schema_t *sl_schema_load(const char *path, char *err, size_t errlen);
/*  Safe twice; NULLs the caller's pointer. */
void sl_schema_destroy(sl_schema_t **s);

/*  `name` of the file ("" if absent), `version` (0 if absent). Valid as
    long as the schema is. */
const char *sl_schema_name(const sl_schema_t *s);
uint32_t sl_schema_version(const sl_schema_t *s);

/*  Validate exactly one msgpack value p[0..len) (an event body: len 0 is
    the empty map). SL_OK if valid; SL_EINVAL if not, with the first
    failure in err as "<prefix><path>: <rule>", e.g. with prefix "body":
      body.severity: must be one of SEV-1, SEV-2, SEV-3, SEV-4
      body.qualified_name: required
      body.owners[2]: expected a string
    SL_EPROTO (reason in err) if p is not well-formed msgpack or bytes
    follow the value. Never reads outside p[0..len). `prefix` may be NULL
    ("" then, and the path starts at the first key). */
int sl_schema_validate(const sl_schema_t *s, const uint8_t *p, size_t len, const char *prefix,
                       char *err, size_t errlen);

/*  Compatibility, with Confluent Schema Registry's meanings:
      BACKWARD  readers of NEW can read data written with OLD
                (every body valid under OLD is valid under NEW)
      FORWARD   readers of OLD can read data written with NEW
      FULL      both
      NONE      no check
    The check is structural and conservative: it reports what it cannot
    prove (two different patterns, say) as incompatible. */
typedef enum {
    SL_COMPAT_NONE = 0,
    SL_COMPAT_BACKWARD,
    SL_COMPAT_FORWARD,
    SL_COMPAT_FULL,
} sl_compat_t;

/*  "backward", "forward", "full", "none" -> mode. SL_EINVAL if unknown. */
int sl_compat_parse(const char *name, sl_compat_t *mode);
const char *sl_compat_name(sl_compat_t mode);
/*  The mode the schema's `compatibility` key asks for (default backward). */
sl_compat_t sl_schema_compat_mode(const sl_schema_t *s);

/*  Check NEW against OLD. SL_OK if compatible; SL_EINVAL if not, with one
    line per offending field appended to `report` (may be NULL), e.g.
      backward: body.severity: old allows "SEV-5", new does not
    SL_ENOMEM. */
int sl_schema_compat(const sl_schema_t *old_s, const sl_schema_t *new_s, sl_compat_t mode,
                     sl_buf_t *report);

/*  A registry: every *.yaml, *.yml and *.json file of a directory, each
    with a `name` and a `version`; name@version must be unique. NULL with
    a reason (file and problem) in err on the first bad file. */
sl_schema_registry_t *sl_schema_registry_load(const char *dir, char *err, size_t errlen);
void sl_schema_registry_destroy(sl_schema_registry_t **r);
/*  The schema name@version; version 0 = the highest version of `name`.
    NULL if absent. Valid as long as the registry is. */
const sl_schema_t *sl_schema_registry_find(const sl_schema_registry_t *r, const char *name,
                                           uint32_t version);
/*  Parse "name@version" (or "name": version 0) and find it. */
const sl_schema_t *sl_schema_registry_ref(const sl_schema_registry_t *r, const char *ref);
/*  Number of schemas, and the i-th (in name, version order). */
int sl_schema_registry_count(const sl_schema_registry_t *r);
const sl_schema_t *sl_schema_registry_at(const sl_schema_registry_t *r, int i);

/*  A schema gate: the one helper every stage that checks events against
    their schemas uses (schema_check, http_ingest, sinks such as
    jsonl_out), so they share options and reasons (docs/schemas.md,
    "Schemas at a sink"). It holds a registry and which schema each event
    kind must satisfy:
      schema  "name@version" (or "name": its highest version) for every
              event, whatever its kind
      map     JSON object, event kind -> "name@version"
      neither each built-in kind (DESIGN.md "Events") -> <kind>@1
    schema and map are exclusive. When the map names two versions of one
    schema, each must be compatible with the mapped version before it, in
    the mode the newer declares. A gate is immutable once made: any number
    of threads may check with it at once. */
typedef struct sl_schema_gate sl_schema_gate_t;

/*  NULL with a one-line reason in err (a bad directory or schema file, a
    map that is not an object of strings, a schema not in the directory,
    two incompatible versions naming each offending field). */
sl_schema_gate_t *sl_schema_gate_new(const char *dir, const char *map, const char *schema,
                                     char *err, size_t errlen);
void sl_schema_gate_destroy(sl_schema_gate_t **g);
/*  Check ev's body against the schema of its kind. SL_OK if valid;
    SL_EINVAL with "body.<path>: <rule>" in reason; SL_ENOTFOUND if no
    schema covers ev's kind ("kind 'x': no schema for this kind");
    SL_EPROTO if the body is not well-formed msgpack. */
int sl_schema_gate_check(const sl_schema_gate_t *g, const sl_event_t *ev, char *reason, size_t len);
/*  Kinds mapped (0 with `schema`), and the registry (owned by the gate). */
int sl_schema_gate_kinds(const sl_schema_gate_t *g);
const sl_schema_registry_t *sl_schema_gate_registry(const sl_schema_gate_t *g);

/*  For a kind's check_option at topology load: the map option `map` (JSON
    text) over the schemas of `dir`. 0 if good, or if `dir` cannot be read
    from here (the start reports that); otherwise non-zero with a reason in
    err and in where a JSON Pointer to the map entry at fault ("/tag.set"):
    a schema not in dir, or a version not compatible with the mapped
    version before it (each offending field named). */
int sl_schema_map_check(const char *dir, const char *map, char *err, size_t errlen, char *where,
                        size_t wherelen);

/*  A ready check_option (sluice/actor.h) for a kind whose options include
    `schemas` (the directory) and `schema_map` (JSON): checks schema_map
    with sl_schema_map_check, every other option is good. */
struct sl_opt_values;
int sl_schema_check_option(const char *option, const char *json, const struct sl_opt_values *opts,
                           char *err, size_t errlen, char *where, size_t wherelen);

#endif
