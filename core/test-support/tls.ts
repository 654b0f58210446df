import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A certificate and its key, as PEM text and as files. */
export interface Issued {
  readonly certPem: string;
  readonly keyPem: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** A throwaway certificate authority for tests that need real TLS. */
export interface TestCa {
  readonly caPem: string;
  readonly caFile: string;
  /** Issues a server certificate for `names` (DNS names and IP addresses). */
  issue(names: readonly string[], label?: string): Issued;
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** A new unencrypted P-256 key, with the request (or self-signed certificate) for it. */
const NEW_P256_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Creates a CA (P-256, valid two days) in `dir` with the system's openssl. */
export function createTestCa(dir: string, name = 'portcullis test CA'): TestCa {
  mkdirSync(dir, { recursive: true });
  const caExtensions = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'];
  openssl(
    [
      'req',
      '-x509',
      ...NEW_P256_KEY,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
    ].concat(caExtensions.flatMap((extension) => ['-addext', extension])),
    dir,
  );
  const caFile = join(dir, 'ca.pem');
  let serial = 0;
  return {
    caPem: readFileSync(caFile, 'utf8'),
    caFile,
    issue(names, label = `leaf${++serial}`) {
      const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
      writeFileSync(
        join(dir, `${label}.ext`),
        `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`,
      );
      const subject = `/CN=${names[0] ?? 'localhost'}`;
      openssl(
        ['req', ...NEW_P256_KEY, '-keyout', `${label}.key`, '-out', `${label}.csr`, '-subj', subject],
        dir,
      );
      openssl(
        [
          'x509',
          '-req',
          '-in',
          `${label}.csr`,
          '-CA',
          'ca.pem',
          '-CAkey',
          'ca.key',
          '-CAcreateserial',
        ].concat(['-out', `${label}.pem`, '-days', '2', '-extfile', `${label}.ext`]),
        dir,
      );
      const certFile = join(dir, `${label}.pem`);
      const keyFile = join(dir, `${label}.key`);
      return {
        certPem: readFileSync(certFile, 'utf8'),
        keyPem: readFileSync(keyFile, 'utf8'),
        certFile,
        keyFile,
      };
    },
  };
}
