"""Publishing: the site build pipeline, deploy plans, signing and the verifier of published bundles."""
