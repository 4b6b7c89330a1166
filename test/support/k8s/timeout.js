// @ts-check
// jest 30 ignores `testTimeout` in a project's config (only the global one counts): set it per test file instead.
// Generous: a test may start its own control plane or run helm against the real API server on a busy machine.
'use strict';
/* global jest */
jest.setTimeout(180_000);
