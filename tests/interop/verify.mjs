// Runs the reference JavaScript stack over files a Python test names, and prints one JSON result
// per check on stdout.  Usage: node verify.mjs JOB.json, where JOB is
//   {"contexts": {URL: PATH}, "dids": {DID: PATH},
//    "checks": [{"name": ..., "kind": "credential" | "signed" | "expand", "path": PATH}]}
// "credential": @digitalbazaar/vc verifyCredential; "signed": jsonld-signatures verify with the
// assertionMethod purpose (for the manifest, which is not a credential); "expand": jsonld.expand in
// safe mode (an undefined term or a relative IRI is an error).  Nothing is fetched from the
// network: the document loader serves the packages' bundled W3C contexts and the files named in
// JOB, and refuses anything else.
import {readFileSync} from 'node:fs';

import * as vc from '@digitalbazaar/vc';
import jsigs from 'jsonld-signatures';
import jsonld from 'jsonld';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {createVerifyCryptosuite} from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import {contexts as credentialContexts} from '@digitalbazaar/credentials-context';
import dataIntegrityContext from '@digitalbazaar/data-integrity-context';
import multikeyContext from '@digitalbazaar/multikey-context';
import didContext from 'did-context';

const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const readJson = path => JSON.parse(readFileSync(path, 'utf8'));

const known = new Map();
for(const map of [credentialContexts, dataIntegrityContext.contexts, multikeyContext.contexts, didContext.contexts]) {
  for(const [url, doc] of map) {
    known.set(url, doc);
  }
}
for(const [url, path] of Object.entries(job.contexts || {})) {
  known.set(url, readJson(path));
}
const dids = new Map(Object.entries(job.dids || {}).map(([did, path]) => [did, readJson(path)]));

async function documentLoader(url) {
  if(known.has(url)) {
    return {contextUrl: null, documentUrl: url, document: known.get(url)};
  }
  const [did, fragment] = url.split('#');
  if(dids.has(did)) {
    const doc = dids.get(did);
    if(!fragment) {
      return {contextUrl: null, documentUrl: url, document: doc};
    }
    const method = (doc.verificationMethod || []).find(vm => vm.id === url);
    if(method) {
      return {contextUrl: null, documentUrl: url, document: {'@context': doc['@context'], ...method}};
    }
  }
  throw new Error(`document loader: ${url} is not served locally (no network in this check)`);
}

function describe(error) {
  if(!error) {
    return null;
  }
  const errors = Array.isArray(error) ? error : (error.errors || [error]);
  // Safe-mode failures name the offending term in details.event.
  return errors.map(e => {
    const event = e.details?.event;
    const what = event ? ` (${event.code}: ${JSON.stringify(event.details)})` : '';
    return (e.message || String(e)) + what;
  }).join('; ');
}

const suite = () => new DataIntegrityProof({cryptosuite: createVerifyCryptosuite()});
const results = [];
for(const check of job.checks) {
  const doc = readJson(check.path);
  let verified = false;
  let error = null;
  try {
    if(check.kind === 'credential') {
      const r = await vc.verifyCredential({credential: doc, suite: suite(), documentLoader});
      verified = r.verified === true;
      error = verified ? null : describe(r.error || r.results?.map(x => x.error).filter(Boolean));
    } else if(check.kind === 'signed') {
      const r = await jsigs.verify(doc, {
        suite: suite(), purpose: new jsigs.purposes.AssertionProofPurpose(), documentLoader
      });
      verified = r.verified === true;
      error = verified ? null : describe(r.error);
    } else if(check.kind === 'expand') {
      const expanded = await jsonld.expand(doc, {documentLoader, safe: true});
      verified = expanded.length > 0;
      error = verified ? null : 'expands to nothing';
    } else {
      error = `unknown check kind ${check.kind}`;
    }
  } catch(e) {
    error = describe(e);
  }
  results.push({name: check.name, verified, error});
}
process.stdout.write(JSON.stringify(results) + '\n');
