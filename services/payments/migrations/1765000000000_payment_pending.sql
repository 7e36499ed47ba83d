-- Up Migration
-- Runs with search_path set to PAYMENTS_SCHEMA.

-- A payment is recorded PENDING (with its PaymentStarted event) before the gateway is called, so a retried or
-- replayed OrderCreated knows the payment was already started and the order service hears of it once.
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED'));

-- Down Migration
DELETE FROM payments WHERE status = 'PENDING';
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN ('SUCCEEDED', 'FAILED'));
