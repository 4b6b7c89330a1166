import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface Certificate {
  key: string;
  cert: string;
  keyFile: string;
  /** Also the CA to trust (NODE_EXTRA_CA_CERTS, a webhook's caBundle): the certificate signs itself. */
  certFile: string;
}

/** A one-day self-signed certificate for 127.0.0.1 (openssl, P-256), written as key.pem and cert.pem into `dir`. */
export function selfSignedCertificate(dir: string): Certificate {
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  return {
    key: fs.readFileSync(keyFile, 'utf8'),
    cert: fs.readFileSync(certFile, 'utf8'),
    keyFile,
    certFile,
  };
}
