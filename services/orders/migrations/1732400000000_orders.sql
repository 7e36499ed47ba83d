-- Up Migration
-- Runs with search_path set to ORDERS_SCHEMA, so every name below lands in it.

CREATE TABLE orders (
  id          uuid PRIMARY KEY,
  customer_id uuid NOT NULL,
  amount      numeric(14, 2) NOT NULL CHECK (amount > 0),
  currency    char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  state       text NOT NULL DEFAULT 'CREATED'
              CHECK (state IN ('CREATED', 'PAYMENT_PENDING', 'PAID', 'FAILED')),
  version     integer NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per Idempotency-Key, claimed in the same transaction as the order it names: a concurrent request with
-- the same key waits on the primary key until the first commits (then replays it) or rolls back (then proceeds).
-- The key is claimed before the order row exists, hence the deferred foreign key.
CREATE TABLE idempotency_keys (
  key          text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 200),
  request_hash text NOT NULL,
  order_id     uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE idempotency_keys;
DROP TABLE orders;
