// @ts-check
// jest 30 ignores a project's testTimeout: each e2e scenario drives real pods through rollouts and outages.
'use strict';
/* global jest */
jest.setTimeout(600_000);
