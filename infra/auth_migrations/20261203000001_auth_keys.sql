-- The built-in signing keys of `infra::auth` (HS256 secrets). Every process of the
-- deployment signs with the newest unretired key and accepts all unretired ones, so a
-- retired_at set here revokes a key's tokens once the processes reload.
CREATE TABLE auth_signing_keys (
    kid         text PRIMARY KEY CHECK (kid LIKE 'il-%'),
    alg         text NOT NULL CHECK (alg = 'HS256'),
    secret      bytea NOT NULL CHECK (octet_length(secret) >= 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);
