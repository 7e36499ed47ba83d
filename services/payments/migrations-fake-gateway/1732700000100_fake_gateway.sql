-- Up Migration
-- Only applied when PAYMENTS_GATEWAY=fake. Runs with search_path set to PAYMENTS_SCHEMA.

-- The fake payment provider's own records, standing in for what a real provider keeps on its side: one row per
-- idempotency key, how often it was called, and the charge if one was made. A charge is made at most once per
-- key, so a worker that crashed after the provider charged (before its own commit) and calls again gets the
-- same charge back. Kept in Postgres so it survives the worker process being killed.
CREATE TABLE fake_gateway_charges (
  idempotency_key text PRIMARY KEY,
  order_id        uuid NOT NULL,
  amount          numeric(14, 2) NOT NULL,
  currency        char(3) NOT NULL,
  calls           integer NOT NULL CHECK (calls >= 1),
  charge_id       uuid,
  charged_at      timestamptz,
  first_call_at   timestamptz NOT NULL DEFAULT now(),
  last_call_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((charge_id IS NULL) = (charged_at IS NULL))
);

-- Down Migration
DROP TABLE fake_gateway_charges;
