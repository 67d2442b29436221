# Schemathesis hooks for the API fuzz test (loaded through SCHEMATHESIS_HOOKS by test/fuzz/openapi.test.ts).
#
# Every creating POST takes an Idempotency-Key, and the same key with another body is refused with 422
# idempotency_key_reused, as documented. Left alone, the generator draws the same few short keys ("0", "00", ...)
# over and over, so most creating requests stop at that check and their bodies never reach the routes. A key the
# document admits (1 to 255 characters) is therefore made unique per request, keeping the generated key as a
# prefix; missing or invalid keys are sent as generated, so those answers are still exercised. (The run's own token
# keeps keys apart across runs by the same API key too.)
#
# The run's own API key (PAYBROKER_FUZZ_KEY_ID) is never rolled or revoked: from a stateful phase's link (GET
# /v1/api-keys lists it) the fuzzer would otherwise stop its own key, and every later request would be a 401. Such a
# request goes to a key id that does not exist instead (a 404, still checked).
import itertools
import os
import re
import uuid

import schemathesis

_run = uuid.uuid4().hex[:8]
_sequence = itertools.count(1)
_MAX_KEY_LENGTH = 255
_COMMAND_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MAX_COMMAND_KEY_LENGTH = 64
_OWN_KEY_ID = os.environ.get("PAYBROKER_FUZZ_KEY_ID")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if _OWN_KEY_ID and case.operation.path.startswith("/api-keys/") and (case.path_parameters or {}).get("id") == _OWN_KEY_ID:
        case.path_parameters["id"] = "fuzzNoSuchKey"
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() != "idempotency-key":
            continue
        key = headers[name]
        if isinstance(key, str) and 1 <= len(key) <= _MAX_KEY_LENGTH:
            # a key that may name an order command (letters, digits, _ and -, at most 64) stays one
            limit = _MAX_COMMAND_KEY_LENGTH if _COMMAND_KEY.fullmatch(key) else _MAX_KEY_LENGTH
            suffix = f"-fz{_run}x{next(_sequence)}"
            headers[name] = key[: limit - len(suffix)] + suffix
