-- Booking intents name the tenant whose streams they cover; intents written before
-- tenants existed are the default tenant's.
ALTER TABLE booking_intents ADD COLUMN IF NOT EXISTS tenant text NOT NULL DEFAULT 'default';
