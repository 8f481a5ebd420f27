"""The test suite. Importing any of its modules runs this first, so argon2 is at its
lowest cost before a module hashes a password at import."""

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from careplan import sign_in

# argon2 at its recommended cost takes about a tenth of a second a hash, and the suite
# hashes and checks thousands of passwords. Tests run the same algorithm at its lowest
# cost; the tests about what the real cost does (a burst of sign-ins, no lock held
# through a check) ask for `real_argon2`. Servers started as processes hash for real.
_REAL_HASHER = sign_in._hasher
sign_in._hasher = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
