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

#endif
