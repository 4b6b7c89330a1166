// @ts-check
'use strict';
/** ESM-only packages that jest must transform to CommonJS (see docs/development.md, "Testing"). */
const esmOnly = ['@kubernetes/client-node', 'openid-client', 'oauth4webapi', 'jose', 'github-slugger'].join(
  '|',
);

const swc = [
  '@swc/jest',
  {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  },
];

/** @type {import('jest').Config} */
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j|mj)s$': swc },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  // A dynamic import() names the compiled file ('./kube/client.js', as TypeScript requires); jest runs the source.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  // Keep jest's file crawl out of the tools folder: buildah's image storage (.tools/containers) holds copies of the
  // repo (duplicate package.json names) and changes while tests run. The proxy benchmark's peers (bench/.peers: a
  // Python virtual environment and an npm tree) are tens of thousands of files no test uses.
  modulePathIgnorePatterns: ['<rootDir>/.tools/', '<rootDir>/bench/.peers/'],
};

/** @type {import('jest').Config} */
module.exports = {
  // testTimeout is a global option: jest ignores it inside a project.
  testTimeout: 60_000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.js',
      globalTeardown: '<rootDir>/test/support/global-teardown.js',
    },
    {
      ...common,
      displayName: 'k8s',
      testMatch: ['<rootDir>/test/k8s/**/*.test.ts'],
      // A real etcd + kube-apiserver (and PostgreSQL) per run; see docs/development.md, "Testing against a real Kubernetes API server".
      globalSetup: '<rootDir>/test/support/k8s/global-setup.js',
      globalTeardown: '<rootDir>/test/support/k8s/global-teardown.js',
      // jest ignores a project's testTimeout; this file sets a generous one.
      setupFilesAfterEnv: ['<rootDir>/test/support/k8s/timeout.js'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      // One real single-node cluster (kubelet, containerd, runc) shared by the scenarios; see docs/e2e.md.
      globalSetup: '<rootDir>/test/e2e/harness/global-setup.js',
      globalTeardown: '<rootDir>/test/e2e/harness/global-teardown.js',
      setupFilesAfterEnv: ['<rootDir>/test/e2e/harness/timeout.js'],
    },
  ],
};
