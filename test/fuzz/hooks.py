# Schemathesis hooks for the API fuzz test (loaded through SCHEMATHESIS_HOOKS by test/fuzz/openapi.test.ts).
#
# Every creating POST takes an Idempotency-Key, and the same key with another body is refused with 422
# idempotency_key_reused, as documented. Left alone, the generator draws the same few short keys ("0", "00", ...)
# over and over, so most creating requests stop at that check and their bodies never reach the routes. A key the
# document admits (1 to 255 characters) is therefore made unique per request, keeping the generated key as a
# prefix; missing or invalid keys are sent as generated, so those answers are still exercised. (The run's own token
# keeps keys apart across runs by the same API key too.)
import itertools
import uuid

import schemathesis

_run = uuid.uuid4().hex[:8]
_sequence = itertools.count(1)
_MAX_KEY_LENGTH = 255


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() != "idempotency-key":
            continue
        key = headers[name]
        if isinstance(key, str) and 1 <= len(key) <= _MAX_KEY_LENGTH:
            suffix = f"-fz{_run}.{next(_sequence)}"
            headers[name] = key[: _MAX_KEY_LENGTH - len(suffix)] + suffix
