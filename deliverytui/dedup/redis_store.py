"""The Redis idempotency store: one key per message under a prefix, decided in Lua.

Why Lua: a claim must test and set in one step (the chapter's ``EXISTS`` then
``SETEX`` lets two redeliveries both pass), must tell an expired lease from a
live one, and must bump the group's counters in the same step so the counters
never disagree with the decisions. A script runs atomically on the server and
reads the server's clock (``TIME``), so consumers on hosts with skewed clocks
still agree on when a lease has expired.

Key values: ``inprogress:{token}:{lease deadline in ms}`` while claimed (the key's
TTL is lease + retention, so an abandoned claim eventually disappears),
``done:{token}`` once completed (TTL = retention; the token makes a retried
``complete`` idempotent), ``done`` from ``mark_if_new``. Any other value — e.g. ``1`` written by the
chapter's code — counts as done, so deliverytui can share a prefix with it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from deliverytui.dedup.sampling import (
    DEFAULT_MAX_CALLS,
    DEFAULT_MAX_KEYS,
    DEFAULT_SCAN_COUNT,
    DEFAULT_TTL_PROBES,
    sample_prefix,
)
from deliverytui.dedup.store import DEFAULT_RETENTION_SECONDS, DedupStore
from deliverytui.dedup.url import Backend, StoreUrl
from deliverytui.errors import one_line
from deliverytui.model.dedup import ClaimOutcome, DedupCounters, DedupSample, KeyCount

DEFAULT_PREFIX = "processed:"
"""The chapter's key prefix, so deliverytui can observe a store written by its code."""

COUNTERS_KEY_PREFIX = "deliverytui:counters:"
COUNTER_GROUPS_KEY = "deliverytui:counter-groups"

# Outcome codes returned by the claim script (4 = the same owner claiming again: owned, not counted).
_CODES = {
    0: ClaimOutcome.FIRST,
    1: ClaimOutcome.DUPLICATE,
    2: ClaimOutcome.IN_PROGRESS,
    3: ClaimOutcome.RETAKEN,
    4: ClaimOutcome.FIRST,
}

_DIGITS = {ord(str(code)): outcome for code, outcome in _CODES.items()}

# KEYS[1] counters hash, KEYS[2] set of groups.
# ARGV: token, lease ms, retention ms, group, errors to add, key prefix, the keys as a JSON array.
#
# The batch's keys travel as *one* JSON argument, not as 1,000 KEYS: redis.asyncio
# builds the request in pure Python, one argument at a time, and that cost more than
# the whole script took to run; ``json.dumps`` and the server's ``cjson.decode`` are
# both C. (Declaring the keys bought nothing either: a batch's keys hash to many
# slots, so the script never ran on Redis Cluster anyway.) One pass, one
# ``redis.call`` per new key; an existing key costs a GET, and a SET only when it
# changes hands.
_CLAIM_LUA = """
local call, pcall, sub = redis.call, redis.pcall, string.sub
local t = call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
local deadline = now + lease
local ttl = lease + tonumber(ARGV[3])
local mine = 'inprogress:' .. ARGV[1] .. ':'
local n_mine = #mine
local value = mine .. string.format('%d', deadline)
local prefix = ARGV[6]
local keys = cjson.decode(ARGV[7])
local first, dup, busy, retaken = 0, 0, 0, 0
local out = {}
for i = 1, #keys do
  local key = prefix .. keys[i]
  local code = 0
  if call('SET', key, value, 'NX', 'PX', ttl) then
    first = first + 1
  else
    local cur = pcall('GET', key)
    if type(cur) ~= 'string' then
      code = 1
      dup = dup + 1
    elseif sub(cur, 1, n_mine) == mine then
      call('SET', key, value, 'PX', ttl)
      code = 4
    elseif sub(cur, 1, 11) == 'inprogress:' then
      local held = tonumber(string.match(cur, ':(%d+)$'))
      if held == nil or held <= now then
        call('SET', key, value, 'PX', ttl)
        code = 3
        retaken = retaken + 1
      else
        code = 2
        busy = busy + 1
      end
    else
      code = 1
      dup = dup + 1
    end
  end
  out[i] = code
end
local errors = tonumber(ARGV[5])
if first + dup + busy + retaken + errors > 0 then
  if first > 0 then call('HINCRBY', KEYS[1], 'misses', first) end
  if dup > 0 then call('HINCRBY', KEYS[1], 'hits', dup) end
  if busy > 0 then call('HINCRBY', KEYS[1], 'in_progress', busy) end
  if retaken > 0 then call('HINCRBY', KEYS[1], 'retakes', retaken) end
  if errors > 0 then call('HINCRBY', KEYS[1], 'errors', errors) end
  call('HSET', KEYS[1], 'updated_at_ms', string.format('%d', now))
  call('SADD', KEYS[2], ARGV[4])
end
-- One digit per key in a single string: parsing 1000 separate integers costs the
-- client far more than the script itself.
return {string.format('%d', deadline), table.concat(out)}
"""

# ARGV: token, retention ms, key prefix, the keys as a JSON array (see _CLAIM_LUA).
# Returns how many are done by this token — including ones an earlier try of this
# same call completed (its reply may have been lost).
_COMPLETE_LUA = """
local call, sub = redis.call, string.sub
local mine = 'inprogress:' .. ARGV[1] .. ':'
local n_mine = #mine
local finished = 'done:' .. ARGV[1]
local ttl = ARGV[2]
local prefix = ARGV[3]
local keys = cjson.decode(ARGV[4])
local done = 0
for i = 1, #keys do
  local key = prefix .. keys[i]
  local cur = redis.pcall('GET', key)
  if type(cur) == 'string' and sub(cur, 1, n_mine) == mine then
    call('SET', key, finished, 'PX', ttl)
    done = done + 1
  elseif cur == finished then
    done = done + 1
  end
end
return done
"""

# KEYS[1]: dedup key. ARGV: token. Deletes the claim only if the token still owns it.
_RELEASE_LUA = """
local cur = redis.pcall('GET', KEYS[1])
if type(cur) == 'string' and string.sub(cur, 1, #('inprogress:' .. ARGV[1] .. ':')) == 'inprogress:' .. ARGV[1] .. ':' then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

# KEYS[1] counters hash, KEYS[2] set of groups, KEYS[3] dedup key. ARGV: retention ms, group, errors.
_MARK_IF_NEW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local new = redis.call('SET', KEYS[3], 'done', 'NX', 'PX', ARGV[1])
if new then redis.call('HINCRBY', KEYS[1], 'misses', 1) else redis.call('HINCRBY', KEYS[1], 'hits', 1) end
if tonumber(ARGV[3]) > 0 then redis.call('HINCRBY', KEYS[1], 'errors', ARGV[3]) end
redis.call('HSET', KEYS[1], 'updated_at_ms', string.format('%d', now))
redis.call('SADD', KEYS[2], ARGV[2])
if new then return 1 end
return 0
"""

_CONNECT_ERRNO = re.compile(r"Error (\d+) connecting to (\S+?)\.? ")

_UNAVAILABLE_REPLIES = ("NOAUTH", "WRONGPASS", "MISCONF", "READONLY", "LOADING", "MASTERDOWN", "NOPERM")


def _packed(keys: list[str]) -> bytes:
    """The keys as one UTF-8 JSON array for the scripts' ``cjson.decode``.

    ``ensure_ascii=False`` keeps it compact, and the explicit ``encode`` fails on a
    lone surrogate exactly as encoding a single key would.
    """
    return json.dumps(keys, ensure_ascii=False, separators=(",", ":")).encode()


class RedisDedupStore(DedupStore):
    """Dedup keys ``{prefix}{key}`` with TTLs, counters in ``deliverytui:counters:{group}``."""

    backend = Backend.REDIS
    max_batch = 1000

    def __init__(
        self,
        url: str | StoreUrl,
        *,
        group: str,
        prefix: str = DEFAULT_PREFIX,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        create_schema: bool = True,
        connect_timeout: float = 3.0,
        operation_timeout: float = 10.0,
    ) -> None:
        super().__init__(url, group=group, retention_seconds=retention_seconds, create_schema=create_schema)
        self.prefix = prefix
        # One quick retry only: it heals a pooled connection left stale by a server
        # restart; anything longer would hide an outage from the consumer. A retried
        # claim is safe because the same token re-claims its own key.
        self._client: Any = aioredis.Redis.from_url(
            self.url.raw,
            socket_connect_timeout=connect_timeout,
            socket_timeout=operation_timeout,
            retry=Retry(NoBackoff(), 1),
            decode_responses=False,
        )
        self._claim_script = self._client.register_script(_CLAIM_LUA)
        self._complete_script = self._client.register_script(_COMPLETE_LUA)
        self._release_script = self._client.register_script(_RELEASE_LUA)
        self._mark_script = self._client.register_script(_MARK_IF_NEW_LUA)
        self._counters_key = COUNTERS_KEY_PREFIX + group

    @property
    def client(self) -> Any:
        """The underlying ``redis.asyncio`` client (bytes responses), e.g. for sampling."""
        return self._client

    async def close(self) -> None:
        await self._client.aclose()

    async def sample(
        self,
        prefix: str | None = None,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        max_calls: int = DEFAULT_MAX_CALLS,
        scan_count: int = DEFAULT_SCAN_COUNT,
        ttl_probes: int = DEFAULT_TTL_PROBES,
    ) -> DedupSample:
        """A bounded sampled SCAN of ``prefix*`` (default: this store's prefix); see ``sampling``."""
        async with self._operation():
            return await sample_prefix(
                self._client,
                self.prefix if prefix is None else prefix,
                max_keys=max_keys,
                max_calls=max_calls,
                count=scan_count,
                ttl_probes=ttl_probes,
            )

    async def _connect(self) -> None:
        await self._client.ping()

    async def _drop_connection(self) -> None:
        await self._client.connection_pool.disconnect()

    def _unavailable_reason(self, exc: BaseException) -> str | None:
        if isinstance(exc, (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)):
            # redis-py says "Error 111 connecting to h:p. Connect call failed (...)": say "Connection refused".
            match = _CONNECT_ERRNO.match(one_line(exc, first_line=True) + " ")
            if match:
                return os.strerror(int(match.group(1)))
            return one_line(exc, first_line=True)
        if isinstance(exc, asyncio.TimeoutError):
            return "timed out"
        if isinstance(exc, redis_errors.ResponseError) and str(exc).upper().startswith(_UNAVAILABLE_REPLIES):
            return one_line(exc, first_line=True)
        return None

    def _ttl_ms(self, seconds: float) -> int:
        return max(1, round(seconds * 1000))

    async def _claim_unique(
        self, keys: list[str], lease_seconds: float, token: str, errors: int
    ) -> list[tuple[ClaimOutcome, float | None]]:
        reply = await self._claim_script(
            keys=[self._counters_key, COUNTER_GROUPS_KEY],
            args=[
                token,
                self._ttl_ms(lease_seconds),
                self._ttl_ms(self.retention_seconds),
                self.group,
                errors,
                self.prefix,
                _packed(keys),
            ],
        )
        deadline = int(reply[0]) / 1000
        decided = {code: (outcome, deadline if outcome.owned else None) for code, outcome in _DIGITS.items()}
        return [decided[code] for code in reply[1]]

    async def _complete(self, keys: list[str], token: str) -> int:
        return int(
            await self._complete_script(
                keys=[], args=[token, self._ttl_ms(self.retention_seconds), self.prefix, _packed(keys)]
            )
        )

    async def _release(self, key: str, token: str) -> bool:
        return int(await self._release_script(keys=[self.prefix + key], args=[token])) == 1

    async def _mark_if_new(self, key: str, errors: int) -> bool:
        reply = await self._mark_script(
            keys=[self._counters_key, COUNTER_GROUPS_KEY, self.prefix + key],
            args=[self._ttl_ms(self.retention_seconds), self.group, errors],
        )
        return int(reply) == 1

    async def _prune(self, older_than_seconds: float) -> int:
        return 0  # Redis expires keys by their TTL.

    async def _read_counters(self, group: str) -> DedupCounters | None:
        raw = await self._client.hgetall(COUNTERS_KEY_PREFIX + group)
        if not raw:
            return None
        fields = {k.decode(): int(v) for k, v in raw.items()}
        updated = fields.get("updated_at_ms")
        return DedupCounters(
            group=group,
            hits=fields.get("hits", 0),
            misses=fields.get("misses", 0),
            retakes=fields.get("retakes", 0),
            in_progress=fields.get("in_progress", 0),
            errors=fields.get("errors", 0),
            updated_at=datetime.fromtimestamp(updated / 1000, tz=UTC) if updated is not None else None,
        )

    async def _list_counter_groups(self, limit: int) -> list[str]:
        groups: list[str] = []
        async for member in self._client.sscan_iter(COUNTER_GROUPS_KEY, count=min(limit, 1000)):
            groups.append(member.decode(errors="replace"))
            if len(groups) >= limit:
                break
        return groups

    async def _keys_held(self) -> KeyCount:
        sample = await sample_prefix(self._client, self.prefix, max_keys=10_000, ttl_probes=0)
        return KeyCount(count=sample.estimated_keys, exact=sample.complete)
