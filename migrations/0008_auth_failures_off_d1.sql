-- Failed authentications are counted in each isolate and in KV (edge::auth): a wrong key no longer
-- costs a D1 write, and the counters expire by themselves.
DROP TABLE IF EXISTS auth_failures;
