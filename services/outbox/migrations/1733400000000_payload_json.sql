-- Up Migration
-- Runs with search_path set to the configured schema, so every name below lands in it.

-- Payloads keep the writer's bytes. As jsonb, a payload was stored parsed and published as jsonb's canonical text:
-- keys sorted (by length, then bytes), duplicates dropped, whitespace normalized, unicode escapes decoded. A
-- consumer that checks a signature over the payload needs the exact bytes that were signed. json keeps the input
-- text verbatim and still refuses what is not JSON. The relay reads payload::text, which is that text.
--
-- The rows already there keep their bytes too: jsonb's text form is what they were published as before, and is now
-- what they are stored as. ALTER COLUMN TYPE rewrites the tables under an ACCESS EXCLUSIVE lock (writers and relays
-- wait): it takes as long as the rows still in them (the backlog and what retention has not deleted yet).
ALTER TABLE outbox ALTER COLUMN payload TYPE json USING payload::json;
ALTER TABLE outbox_dead_letters ALTER COLUMN payload TYPE json USING payload::json;

-- enqueue(...) for the three ways a caller passes a payload, one body (the json one) doing the work:
--   * json: stored verbatim;
--   * text, and an untyped literal or parameter ('{"a": 1}', $4 without a cast: Postgres resolves unknown to the
--     text variant): checked to be JSON (refused with 22023 naming payload), then stored verbatim;
--   * jsonb (the signature of 1733300000000, kept so that callers casting to jsonb go on working): stored as jsonb's
--     canonical text, the bytes such an event was published with before.
-- The size limit is measured on the text stored, which is what the relay publishes.
CREATE FUNCTION enqueue(
  aggregate_type text,
  aggregate_id text,
  event_type text,
  payload json,
  headers jsonb DEFAULT '{}'::jsonb,
  event_id uuid DEFAULT NULL
) RETURNS TABLE (id uuid, seq bigint, partition integer)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path FROM CURRENT
AS $$
DECLARE
  -- The rules of src/write/event.ts.
  subject_token constant text := '^[A-Za-z][A-Za-z0-9_-]{0,127}$';
  subject_token_rule constant text := 'must be 1-128 letters, digits, "_" or "-", starting with a letter';
  header_name_re constant text := '^[A-Za-z][A-Za-z0-9-]{0,63}$';
  traceparent_re constant text := '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$';
  control_re constant text := '[\u0001-\u001f\u007f]';  -- (text cannot hold NUL)
  -- What JavaScript's String.prototype.trim() removes (NATS trims header values), at either end.
  js_space constant text := '[\u0009-\u000d\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]';
  max_headers constant integer := 32;
  max_bytes constant integer := 524288;                       -- DEFAULT_MAX_PAYLOAD_BYTES: 512 KiB
  schema_name constant text := current_schema();
  hdrs jsonb := coalesce(enqueue.headers, '{}'::jsonb);
  h_name text;
  h_json jsonb;
  h_value text;
  size bigint;
  partitions integer;
  written_partition integer;
BEGIN
  -- 1. Validate: nothing is locked or written before every value is known to be able to travel.
  IF enqueue.aggregate_type IS NULL OR enqueue.aggregate_type !~ subject_token THEN
    RAISE EXCEPTION 'outbox.enqueue: aggregate_type %', subject_token_rule
      USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s', coalesce(quote_literal(left(enqueue.aggregate_type, 200)), 'NULL'));
  END IF;
  IF enqueue.event_type IS NULL OR enqueue.event_type !~ subject_token THEN
    RAISE EXCEPTION 'outbox.enqueue: event_type %', subject_token_rule
      USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s', coalesce(quote_literal(left(enqueue.event_type, 200)), 'NULL'));
  END IF;
  -- length() counts characters (code points), as zod's max() does.
  IF enqueue.aggregate_id IS NULL OR enqueue.aggregate_id = '' OR length(enqueue.aggregate_id) > 256 THEN
    RAISE EXCEPTION 'outbox.enqueue: aggregate_id must be 1-256 characters'
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('got %s', coalesce(length(enqueue.aggregate_id) || ' characters', 'NULL'));
  END IF;
  IF enqueue.aggregate_id ~ control_re THEN
    RAISE EXCEPTION 'outbox.enqueue: aggregate_id must not contain control characters (line breaks, tabs, ...)'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF enqueue.aggregate_id ~ ('^' || js_space) OR enqueue.aggregate_id ~ (js_space || '$') THEN
    RAISE EXCEPTION 'outbox.enqueue: aggregate_id must not start or end with whitespace (NATS trims header values)'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF enqueue.payload IS NULL THEN
    RAISE EXCEPTION 'outbox.enqueue: payload must be a JSON value (got SQL NULL; a JSON null is ''null'')'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF jsonb_typeof(hdrs) <> 'object' THEN
    RAISE EXCEPTION 'outbox.enqueue: headers must be a JSON object of string values'
      USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got a JSON %s', jsonb_typeof(hdrs));
  END IF;
  IF (SELECT count(*) FROM jsonb_object_keys(hdrs)) > max_headers THEN
    RAISE EXCEPTION 'outbox.enqueue: headers must have at most % entries', max_headers
      USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s', (SELECT count(*) FROM jsonb_object_keys(hdrs)));
  END IF;
  FOR h_name, h_json IN SELECT e.key, e.value FROM jsonb_each(hdrs) AS e ORDER BY e.key LOOP
    IF h_name !~ header_name_re THEN
      RAISE EXCEPTION 'outbox.enqueue: headers: the name % must be 1-64 letters, digits and "-", starting with a letter', to_json(left(h_name, 200))
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lower(h_name) LIKE 'nats-%' OR lower(h_name) LIKE 'outbox-%' THEN
      RAISE EXCEPTION 'outbox.enqueue: headers: the name % is reserved (names starting with "nats-" or "outbox-" belong to the relay and JetStream)', to_json(h_name)
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(h_json) <> 'string' THEN
      RAISE EXCEPTION 'outbox.enqueue: headers.% must be a string', h_name
        USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got a JSON %s', jsonb_typeof(h_json));
    END IF;
    h_value := h_json #>> '{}';
    IF length(h_value) > 4096 THEN
      RAISE EXCEPTION 'outbox.enqueue: headers.% must be at most 4096 characters', h_name
        USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s', length(h_value));
    END IF;
    IF h_value ~ control_re THEN
      RAISE EXCEPTION 'outbox.enqueue: headers.% must not contain control characters (line breaks, tabs, ...)', h_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF h_value ~ ('^' || js_space) OR h_value ~ (js_space || '$') THEN
      RAISE EXCEPTION 'outbox.enqueue: headers.% must not start or end with whitespace (NATS trims header values)', h_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF h_name = 'traceparent' AND h_value !~ traceparent_re THEN
      RAISE EXCEPTION 'outbox.enqueue: headers.traceparent must be a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  -- zod's z.uuid(): RFC 9562 version 1-8 and variant 10xx, or the nil or max UUID (any text form Postgres reads).
  IF enqueue.event_id IS NOT NULL
     AND enqueue.event_id::text !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
     AND enqueue.event_id NOT IN ('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff') THEN
    RAISE EXCEPTION 'outbox.enqueue: event_id must be a UUID (RFC 9562: version 1-8, variant 10xx), or NULL for a new one'
      USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s', enqueue.event_id);
  END IF;
  size := octet_length(enqueue.payload::text) + octet_length(hdrs::text);
  IF size > max_bytes THEN
    RAISE EXCEPTION 'outbox.enqueue: payload and headers must be at most % bytes serialized', max_bytes
      USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s bytes', size);
  END IF;

  -- 2. The partition count, under the partition map's shared lock (held until the transaction ends)...
  partitions := outbox_writer_partitions();
  IF partitions IS NULL THEN
    RAISE EXCEPTION 'outbox.enqueue: % has no partition count (outbox_settings is empty); run the outbox migrations', schema_name
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  -- 3. ...then the aggregate's lock, before the row draws its seq: a second writer of the aggregate waits here
  -- until the first commits or rolls back.
  PERFORM pg_advisory_xact_lock(outbox_lock_space(schema_name), hashtext(enqueue.aggregate_type || '/' || enqueue.aggregate_id));
  written_partition := (((hashtextextended(enqueue.aggregate_type || '/' || enqueue.aggregate_id, 0) % partitions) + partitions) % partitions)::integer;

  RETURN QUERY
    INSERT INTO outbox AS o (id, partition, aggregate_type, aggregate_id, event_type, payload, headers)
    VALUES (coalesce(enqueue.event_id, gen_random_uuid()), written_partition, enqueue.aggregate_type,
            enqueue.aggregate_id, enqueue.event_type, enqueue.payload, hdrs)
    RETURNING o.id, o.seq, o.partition;

  -- 4. Wake the relays when (and only if) the transaction commits.
  PERFORM pg_notify(schema_name || '_outbox', 'wake');
END
$$;

CREATE OR REPLACE FUNCTION enqueue(
  aggregate_type text,
  aggregate_id text,
  event_type text,
  payload jsonb,
  headers jsonb DEFAULT '{}'::jsonb,
  event_id uuid DEFAULT NULL
) RETURNS TABLE (id uuid, seq bigint, partition integer)
LANGUAGE sql VOLATILE SECURITY INVOKER
SET search_path FROM CURRENT
AS $$
  SELECT * FROM enqueue(aggregate_type, aggregate_id, event_type, payload::json, headers, event_id)
$$;

CREATE FUNCTION enqueue(
  aggregate_type text,
  aggregate_id text,
  event_type text,
  payload text,
  headers jsonb DEFAULT '{}'::jsonb,
  event_id uuid DEFAULT NULL
) RETURNS TABLE (id uuid, seq bigint, partition integer)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path FROM CURRENT
AS $$
DECLARE
  checked json;
  why text;
BEGIN
  -- The cast is json's own check, which keeps the text as it is; only its error is turned into the function's
  -- contract (22023 naming the parameter). The block writes nothing, so its subtransaction takes no xid.
  BEGIN
    checked := enqueue.payload::json;
  EXCEPTION WHEN invalid_text_representation THEN
    GET STACKED DIAGNOSTICS why = PG_EXCEPTION_DETAIL;
    RAISE EXCEPTION 'outbox.enqueue: payload must be JSON text'
      USING ERRCODE = 'invalid_parameter_value', DETAIL = concat_ws(': ', SQLERRM, nullif(why, ''));
  END;
  RETURN QUERY SELECT * FROM enqueue(enqueue.aggregate_type, enqueue.aggregate_id, enqueue.event_type, checked, enqueue.headers, enqueue.event_id);
END
$$;

COMMENT ON FUNCTION enqueue(text, text, text, json, jsonb, uuid) IS
  'Writes one outbox event in the caller''s transaction, exactly as the TypeScript enqueue does, the payload''s bytes as given; wakes the relays at commit. See services/outbox/README.md.';
COMMENT ON FUNCTION enqueue(text, text, text, text, jsonb, uuid) IS
  'enqueue(...) with the payload as JSON text (also what an untyped literal or parameter resolves to): checked, then stored byte for byte.';
COMMENT ON FUNCTION enqueue(text, text, text, jsonb, jsonb, uuid) IS
  'enqueue(...) with a jsonb payload: stored (and published) as jsonb''s canonical text. Pass json or text to keep your bytes.';

-- Down Migration
DROP FUNCTION enqueue(text, text, text, text, jsonb, uuid);
DROP FUNCTION enqueue(text, text, text, jsonb, jsonb, uuid);
DROP FUNCTION enqueue(text, text, text, json, jsonb, uuid);
-- 1733300000000's function, as it was.
CREATE FUNCTION enqueue(
  aggregate_type text,
  aggregate_id text,
  event_type text,
  payload jsonb,
  headers jsonb DEFAULT '{}'::jsonb,
  event_id uuid DEFAULT NULL
) RETURNS TABLE (id uuid, seq bigint, partition integer)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path FROM CURRENT
AS $$
DECLARE
  -- The rules of src/write/event.ts.
  subject_token constant text := '^[A-Za-z][A-Za-z0-9_-]{0,127}$';
  subject_token_rule constant text := 'must be 1-128 letters, digits, "_" or "-", starting with a letter';
  header_name_re constant text := '^[A-Za-z][A-Za-z0-9-]{0,63}$';
  traceparent_re constant text := '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$';
  control_re constant text := '[\u0001-\u001f\u007f]';  -- (text cannot hold NUL)
  -- What JavaScript's String.prototype.trim() removes (NATS trims header values), at either end.
  js_space constant text := '[\u0009-\u000d\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]';
  max_headers constant integer := 32;
  max_bytes constant integer := 524288;                       -- DEFAULT_MAX_PAYLOAD_BYTES: 512 KiB
  schema_name constant text := current_schema();
  hdrs jsonb := coalesce(enqueue.headers, '{}'::jsonb);
  h_name text;
  h_json jsonb;
  h_value text;
  size bigint;
  partitions integer;
  written_partition integer;
BEGIN
  -- 1. Validate: nothing is locked or written before every value is known to be able to travel.
  IF enqueue.aggregate_type IS NULL OR enqueue.aggregate_type !~ subject_token THEN
    RAISE EXCEPTION 'outbox.enqueue: aggregate_type %', subject_token_rule
      USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s', coalesce(quote_literal(left(enqueue.aggregate_type, 200)), 'NULL'));
  END IF;
  IF enqueue.event_type IS NULL OR enqueue.event_type !~ subject_token THEN
    RAISE EXCEPTION 'outbox.enqueue: event_type %', subject_token_rule
      USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s', coalesce(quote_literal(left(enqueue.event_type, 200)), 'NULL'));
  END IF;
  -- length() counts characters (code points), as zod's max() does.
  IF enqueue.aggregate_id IS NULL OR enqueue.aggregate_id = '' OR length(enqueue.aggregate_id) > 256 THEN
    RAISE EXCEPTION 'outbox.enqueue: aggregate_id must be 1-256 characters'
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('got %s', coalesce(length(enqueue.aggregate_id) || ' characters', 'NULL'));
  END IF;
  IF enqueue.aggregate_id ~ control_re THEN
    RAISE EXCEPTION 'outbox.enqueue: aggregate_id must not contain control characters (line breaks, tabs, ...)'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF enqueue.aggregate_id ~ ('^' || js_space) OR enqueue.aggregate_id ~ (js_space || '$') THEN
    RAISE EXCEPTION 'outbox.enqueue: aggregate_id must not start or end with whitespace (NATS trims header values)'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF enqueue.payload IS NULL THEN
    RAISE EXCEPTION 'outbox.enqueue: payload must be a JSON value (got SQL NULL; a JSON null is ''null''::jsonb)'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF jsonb_typeof(hdrs) <> 'object' THEN
    RAISE EXCEPTION 'outbox.enqueue: headers must be a JSON object of string values'
      USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got a JSON %s', jsonb_typeof(hdrs));
  END IF;
  IF (SELECT count(*) FROM jsonb_object_keys(hdrs)) > max_headers THEN
    RAISE EXCEPTION 'outbox.enqueue: headers must have at most % entries', max_headers
      USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s', (SELECT count(*) FROM jsonb_object_keys(hdrs)));
  END IF;
  FOR h_name, h_json IN SELECT e.key, e.value FROM jsonb_each(hdrs) AS e ORDER BY e.key LOOP
    IF h_name !~ header_name_re THEN
      RAISE EXCEPTION 'outbox.enqueue: headers: the name % must be 1-64 letters, digits and "-", starting with a letter', to_json(left(h_name, 200))
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lower(h_name) LIKE 'nats-%' OR lower(h_name) LIKE 'outbox-%' THEN
      RAISE EXCEPTION 'outbox.enqueue: headers: the name % is reserved (names starting with "nats-" or "outbox-" belong to the relay and JetStream)', to_json(h_name)
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(h_json) <> 'string' THEN
      RAISE EXCEPTION 'outbox.enqueue: headers.% must be a string', h_name
        USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got a JSON %s', jsonb_typeof(h_json));
    END IF;
    h_value := h_json #>> '{}';
    IF length(h_value) > 4096 THEN
      RAISE EXCEPTION 'outbox.enqueue: headers.% must be at most 4096 characters', h_name
        USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s', length(h_value));
    END IF;
    IF h_value ~ control_re THEN
      RAISE EXCEPTION 'outbox.enqueue: headers.% must not contain control characters (line breaks, tabs, ...)', h_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF h_value ~ ('^' || js_space) OR h_value ~ (js_space || '$') THEN
      RAISE EXCEPTION 'outbox.enqueue: headers.% must not start or end with whitespace (NATS trims header values)', h_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF h_name = 'traceparent' AND h_value !~ traceparent_re THEN
      RAISE EXCEPTION 'outbox.enqueue: headers.traceparent must be a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  -- zod's z.uuid(): RFC 9562 version 1-8 and variant 10xx, or the nil or max UUID (any text form Postgres reads).
  IF enqueue.event_id IS NOT NULL
     AND enqueue.event_id::text !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
     AND enqueue.event_id NOT IN ('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff') THEN
    RAISE EXCEPTION 'outbox.enqueue: event_id must be a UUID (RFC 9562: version 1-8, variant 10xx), or NULL for a new one'
      USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s', enqueue.event_id);
  END IF;
  size := octet_length(enqueue.payload::text) + octet_length(hdrs::text);
  IF size > max_bytes THEN
    RAISE EXCEPTION 'outbox.enqueue: payload and headers must be at most % bytes serialized', max_bytes
      USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s bytes', size);
  END IF;

  -- 2. The partition count, under the partition map's shared lock (held until the transaction ends)...
  partitions := outbox_writer_partitions();
  IF partitions IS NULL THEN
    RAISE EXCEPTION 'outbox.enqueue: % has no partition count (outbox_settings is empty); run the outbox migrations', schema_name
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  -- 3. ...then the aggregate's lock, before the row draws its seq: a second writer of the aggregate waits here
  -- until the first commits or rolls back.
  PERFORM pg_advisory_xact_lock(outbox_lock_space(schema_name), hashtext(enqueue.aggregate_type || '/' || enqueue.aggregate_id));
  written_partition := (((hashtextextended(enqueue.aggregate_type || '/' || enqueue.aggregate_id, 0) % partitions) + partitions) % partitions)::integer;

  RETURN QUERY
    INSERT INTO outbox AS o (id, partition, aggregate_type, aggregate_id, event_type, payload, headers)
    VALUES (coalesce(enqueue.event_id, gen_random_uuid()), written_partition, enqueue.aggregate_type,
            enqueue.aggregate_id, enqueue.event_type, enqueue.payload, hdrs)
    RETURNING o.id, o.seq, o.partition;

  -- 4. Wake the relays when (and only if) the transaction commits.
  PERFORM pg_notify(schema_name || '_outbox', 'wake');
END
$$;

COMMENT ON FUNCTION enqueue(text, text, text, jsonb, jsonb, uuid) IS
  'Writes one outbox event in the caller''s transaction, exactly as the TypeScript enqueue does; wakes the relays at commit. See services/outbox/README.md.';

ALTER TABLE outbox_dead_letters ALTER COLUMN payload TYPE jsonb USING payload::jsonb;
ALTER TABLE outbox ALTER COLUMN payload TYPE jsonb USING payload::jsonb;
