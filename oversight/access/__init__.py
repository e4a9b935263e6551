"""Who may do what: sign-in for every role, staff sessions that survive a refresh, limits on link guessing.

Owns: `auth` (passwords, participant and enrolment links, the sign-in throttle), `staff_links` (one-time staff
invite and reset links, deactivation, the staff list), `staff_sessions` (the HttpOnly
cookie's server side), `ratelimit` (per-process counters of failed link lookups).
Imports: the core modules of `oversight` (settings, db, audit) and `storage`; nothing else in `oversight`.
"""
