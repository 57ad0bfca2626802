/**
 * What the server's TLS offers, on both ports (the HTTPS API and TCP ingest): TLS 1.2 and 1.3,
 * and only AEAD suites with ephemeral ECDHE keys. Node's default list also offers CBC suites
 * with SHA-1 or SHA-2 MACs for TLS 1.2 (ECDHE-ECDSA-AES128-SHA…), which have a long record of
 * padding-oracle attacks and give nothing our clients need: every Node client speaks these.
 * The TLS 1.3 suites are OpenSSL's defaults, all AEAD, listed so the string says everything.
 */
const TLS13_SUITES = ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256'];

// ECDSA first: the self-signed certificate is P-256; RSA for operators' own certificates.
const TLS12_AEAD_SUITES = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-CHACHA20-POLY1305',
];

/** Options every TLS server of ours starts from (node:tls createServer and https). */
export const SERVER_TLS_OPTIONS = {
  minVersion: 'TLSv1.2',
  ciphers: [...TLS13_SUITES, ...TLS12_AEAD_SUITES].join(':'),
  honorCipherOrder: true,
} as const;
