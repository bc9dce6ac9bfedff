//! The Lua scripts of the Redis backend, one per operation of `Backend`
//! that changes something or reads the clock. Redis runs a script alone,
//! start to end, and writes its effects to the append-only file (and to
//! replicas) as one transaction: a claim and its token cannot come apart,
//! a compare-and-set cannot be interleaved.
//!
//! Every time comes from `redis.call('TIME')`, the server's clock, as
//! milliseconds since the epoch; every number crosses as a string written
//! with `%d` (Lua's numbers are doubles: exact for these, but `tostring`
//! would write large ones with an exponent).
//!
//! The keys (key layout 1; `super` names them):
//!
//! - `kron:occ:{task}:{instant}`: a hash per occurrence, the claim. Its
//!   fields: task, instant, state (`running` or an outcome), node, run_id,
//!   token, digest, claimed, lease_until (while running), finished,
//!   attempts, exit_code, reason, previous, locks (the cluster locks the
//!   run took, comma-separated). It expires `retention` after its claim.
//! - `kron:fencing`: the counter every token comes from (`INCR`).
//! - `kron:ledger:{task}`: the task's occurrences, a sorted set of instant
//!   texts scored by their milliseconds; `kron:tasks`: the tasks that have
//!   one; `kron:trimmed`: per task, the newest instant trimmed away by
//!   count (no claim reaches below it).
//! - `kron:lock:{name}`: a cluster-wide lock, a hash (task, instant, node,
//!   run_id, token, lease_until, stop) that expires with its lease.
//! - `kron:node:{node}` and the set `kron:nodes`; `kron:def:{task}` (node →
//!   digest) and the set `kron:defs`.
//! - `kron:schema`: the key layout's version.
//!
//! Scripts derive some keys themselves (a trimmed occurrence, a run's
//! locks), which Redis Cluster (sharding) forbids: kron wants one server.

/// Helpers every script starts with.
macro_rules! prelude {
    () => {
        r#"
local function fmt(n) return string.format('%d', n) end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- node, run_id, token, digest, state, lease left in ms ('' once ended)
local function holder(key, now)
  local h = redis.call('HMGET', key, 'node', 'run_id', 'token', 'digest', 'state', 'lease_until')
  if not h[1] then return nil end
  local left = ''
  if h[5] == 'running' then left = fmt(math.max(0, (tonumber(h[6]) or 0) - now)) end
  return {h[1], h[2], h[3], h[4], h[5], left}
end
local function names(list)
  return string.gmatch(list or '', '[^,]+')
end
-- Deletes the locks named in `list` that are held with `token`.
local function free_locks(list, token)
  for name in names(list) do
    local lock = 'kron:lock:' .. name
    if redis.call('HGET', lock, 'token') == token then redis.call('DEL', lock) end
  end
end
-- A running occurrence's key outlives its lease, whatever its retention.
local function keep_alive(key, lease)
  local ttl = redis.call('PTTL', key)
  if ttl >= 0 and ttl < 2 * lease then redis.call('PEXPIRE', key, fmt(2 * lease)) end
end
"#
    };
}

/// KEYS: occurrence, fencing, ledger, tasks, trimmed, schema.
/// ARGV: task, instant text, instant ms, node, run id, digest, lease ms,
/// keep, retention ms, schema version, trim batch, ms of the recent past
/// no trim reaches.
/// Returns `{'won', token}`, `{'lost', holder...}` or
/// `{'forgotten', 'count' | 'age', ms}`.
pub const CLAIM: &str = concat!(
    prelude!(),
    r#"
local now = now_ms()
local schema = tonumber(redis.call('GET', KEYS[6]))
if schema and schema > tonumber(ARGV[10]) then
  return redis.error_reply('kron key layout ' .. fmt(schema) .. ' is newer than this kron (' .. ARGV[10] .. '): upgrade kron on this host')
end
if not schema then redis.call('SET', KEYS[6], ARGV[10]) end
local h = holder(KEYS[1], now)
if h then
  if h[1] == ARGV[4] and h[2] == ARGV[5] and h[5] == 'running' then return {'won', h[3]} end
  return {'lost', h[1], h[2], h[3], h[4], h[5], h[6]}
end
local instant, lease = tonumber(ARGV[3]), tonumber(ARGV[7])
local keep, retention = tonumber(ARGV[8]), tonumber(ARGV[9])
local floor = tonumber(redis.call('HGET', KEYS[5], ARGV[1]))
if floor and instant <= floor then return {'forgotten', 'count', fmt(floor)} end
if instant < now - retention then return {'forgotten', 'age', fmt(now - retention)} end
local token = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'task', ARGV[1], 'instant', ARGV[3], 'state', 'running',
  'node', ARGV[4], 'run_id', ARGV[5], 'token', fmt(token), 'digest', ARGV[6],
  'claimed', fmt(now), 'lease_until', fmt(now + lease))
redis.call('PEXPIRE', KEYS[1], fmt(math.max(retention, 2 * lease)))
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
redis.call('PEXPIRE', KEYS[3], fmt(retention))
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. fmt(now - retention))
-- Past a tenth over `keep`, the oldest leave: not a running one, nor one
-- of the last hour (a host that comes late still finds it claimed).
local n = redis.call('ZCARD', KEYS[3])
if n > keep + math.floor(keep / 10) then
  local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. fmt(now - tonumber(ARGV[12])),
    'WITHSCORES', 'LIMIT', 0, math.min(n - keep, tonumber(ARGV[11])))
  local newest = floor
  for i = 1, #old, 2 do
    local key = 'kron:occ:' .. ARGV[1] .. ':' .. old[i]
    if redis.call('HGET', key, 'state') ~= 'running' then
      redis.call('DEL', key)
      redis.call('ZREM', KEYS[3], old[i])
      local at = tonumber(old[i + 1])
      if not newest or at > newest then newest = at end
    end
  end
  if newest then redis.call('HSET', KEYS[5], ARGV[1], fmt(newest)) end
end
return {'won', fmt(token)}
"#
);

/// KEYS: occurrence. Returns the holder, or an empty array.
pub const HOLDER: &str = concat!(
    prelude!(),
    r#"
return holder(KEYS[1], now_ms()) or {}
"#
);

/// KEYS: occurrence. ARGV: token, lease ms.
/// Returns `{'held', stop}` or `{'lost'}`.
pub const RENEW: &str = concat!(
    prelude!(),
    r#"
local now = now_ms()
local h = redis.call('HMGET', KEYS[1], 'token', 'state', 'locks')
if h[1] ~= ARGV[1] or h[2] ~= 'running' then return {'lost'} end
local lease = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'lease_until', fmt(now + lease))
keep_alive(KEYS[1], lease)
local stop = '0'
for name in names(h[3]) do
  local lock = 'kron:lock:' .. name
  if redis.call('HGET', lock, 'token') == ARGV[1] then
    redis.call('HSET', lock, 'lease_until', fmt(now + lease))
    redis.call('PEXPIRE', lock, fmt(lease))
    if redis.call('HGET', lock, 'stop') == '1' then stop = '1' end
  end
end
return {'held', stop}
"#
);

/// KEYS: occurrence, fencing. ARGV: node, run id, digest, lease ms,
/// retry (`1`) or once (`0`).
/// Returns `{'none'}`, `{'unchanged', holder...}`,
/// `{'won', token, previous holder...}` or `{'abandoned', holder...}`.
pub const TAKE_OVER: &str = concat!(
    prelude!(),
    r#"
local now = now_ms()
local h = holder(KEYS[1], now)
if not h then return {'none'} end
local f = redis.call('HMGET', KEYS[1], 'lease_until', 'locks')
if h[5] ~= 'running' or (tonumber(f[1]) or 0) >= now then
  return {'unchanged', h[1], h[2], h[3], h[4], h[5], h[6]}
end
-- The dead holder's locks are free for whoever comes next.
free_locks(f[2], h[3])
redis.call('HDEL', KEYS[1], 'locks')
if ARGV[5] == '1' then
  local lease = tonumber(ARGV[4])
  local token = redis.call('INCR', KEYS[2])
  redis.call('HSET', KEYS[1], 'node', ARGV[1], 'run_id', ARGV[2], 'digest', ARGV[3],
    'token', fmt(token), 'claimed', fmt(now), 'lease_until', fmt(now + lease),
    'previous', h[1])
  keep_alive(KEYS[1], lease)
  return {'won', fmt(token), h[1], h[2], h[3], h[4], h[5], h[6]}
end
local reason = 'its holder, ' .. h[1] .. ' (run ' .. h[2] .. ', token ' .. h[3] ..
  '), stopped renewing its lease'
redis.call('HSET', KEYS[1], 'state', 'abandoned', 'finished', fmt(now), 'reason', reason,
  'previous', ARGV[1])
redis.call('HDEL', KEYS[1], 'lease_until')
return {'abandoned', h[1], h[2], h[3], h[4], h[5], h[6]}
"#
);

/// KEYS: occurrence. ARGV: token, outcome, attempts, has exit code (`1`),
/// exit code, has reason (`1`), reason. Returns 1, or 0 when the token is
/// no longer the holder's.
pub const FINISH: &str = concat!(
    prelude!(),
    r#"
local now = now_ms()
local h = redis.call('HMGET', KEYS[1], 'token', 'state', 'locks')
free_locks(h[3], ARGV[1])
if h[1] ~= ARGV[1] or h[2] ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'finished', fmt(now), 'attempts', ARGV[3])
redis.call('HDEL', KEYS[1], 'lease_until', 'locks')
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'exit_code', ARGV[5])
else redis.call('HDEL', KEYS[1], 'exit_code') end
if ARGV[6] == '1' then redis.call('HSET', KEYS[1], 'reason', ARGV[7])
else redis.call('HDEL', KEYS[1], 'reason') end
return 1
"#
);

/// KEYS: lock, occurrence. ARGV: name, task, instant ms, node, run id,
/// token, lease ms. Returns `{'held'}` or
/// `{'busy', task, instant ms, node, run id}`.
pub const LOCK: &str = concat!(
    prelude!(),
    r#"
local now = now_ms()
local l = redis.call('HMGET', KEYS[1], 'token', 'lease_until', 'task', 'instant', 'node', 'run_id')
if l[1] and l[1] ~= ARGV[6] and (tonumber(l[2]) or 0) >= now then
  return {'busy', l[3], l[4], l[5], l[6]}
end
local lease = tonumber(ARGV[7])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'task', ARGV[2], 'instant', ARGV[3], 'node', ARGV[4],
  'run_id', ARGV[5], 'token', ARGV[6], 'lease_until', fmt(now + lease), 'stop', '0')
redis.call('PEXPIRE', KEYS[1], fmt(lease))
if redis.call('EXISTS', KEYS[2]) == 1 then
  local list = redis.call('HGET', KEYS[2], 'locks') or ''
  if not string.find(',' .. list .. ',', ',' .. ARGV[1] .. ',', 1, true) then
    if list == '' then list = ARGV[1] else list = list .. ',' .. ARGV[1] end
    redis.call('HSET', KEYS[2], 'locks', list)
  end
end
return {'held'}
"#
);

/// KEYS: lock. Asks its holder to stop; nothing when it is free.
pub const REQUEST_STOP: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'stop', '1') end
return 1
"#;

/// KEYS: node, nodes, definitions, then each task's definition. ARGV:
/// node, version, file digest, tzdata, then each task's name and digest.
pub const SEEN: &str = concat!(
    prelude!(),
    r#"
redis.call('HSET', KEYS[1], 'last_seen', fmt(now_ms()), 'version', ARGV[2],
  'file_digest', ARGV[3], 'tzdata', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[1])
for i = 4, #KEYS do
  redis.call('HSET', KEYS[i], ARGV[1], ARGV[2 * i - 2])
  redis.call('SADD', KEYS[3], ARGV[2 * i - 3])
end
return 1
"#
);
