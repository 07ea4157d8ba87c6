"""HTTP client of the coordinator's REST API, for workers, the demo and operators.

The coordinator is a convenience, not an authority: every spec and artifact this client downloads is
checked against the hash it was asked for, so a lying coordinator can only make a call fail.
"""

from __future__ import annotations

import hashlib
import json

import httpx
from pydantic import BaseModel

from pinpoint.signing import SigningDomain, sign_request
from pinpoint.spec import AnySpec, parse_spec


class CoordinatorError(RuntimeError):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the HTTP status, when the coordinator answered


class HashMismatch(CoordinatorError):
    pass


class ReportConflict(RuntimeError):
    """The coordinator holds other hashes for a checkpoint this key reports: someone reported in our name, or
    the coordinator is wrong. An alarm, never "already done" (and not retried as a transient error)."""


def sha256_hex(data: bytes) -> str:
    return "0x" + hashlib.sha256(data).hexdigest()


class CoordinatorClient:
    """`private_key` and `domain` (Chain.signing_domain: the deployment) sign writes and a solver's reads."""

    def __init__(self, base_url: str, private_key: str | None = None, domain: SigningDomain | None = None,
                 timeout: float = 60.0):
        self.http = httpx.Client(base_url=base_url, timeout=timeout)
        self.private_key = private_key
        self.domain = domain

    @classmethod
    def for_chain(cls, base_url: str, chain, timeout: float = 60.0) -> "CoordinatorClient":
        """A client that signs with `chain`'s key for `chain`'s deployment."""
        key = "0x" + bytes(chain.account.key).hex() if chain.account is not None else None
        return cls(base_url, key, chain.signing_domain, timeout)

    def _signed(self, method: str, path: str, body: bytes = b"", digest: bytes | None = None) -> dict[str, str]:
        if not self.private_key or self.domain is None:
            raise CoordinatorError(f"{method} {path} must be signed: this client has no key or no deployment")
        return sign_request(self.private_key, self.domain, method, path, body, digest)

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.is_error:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise CoordinatorError(f"{response.request.method} {response.request.url.path}: {response.status_code} {detail}",
                                   response.status_code)
        return response

    # --- specs and jobs ----------------------------------------------------------------------------

    def submit_spec(self, spec: AnySpec | dict) -> dict:
        body = spec.model_dump(mode="json") if isinstance(spec, BaseModel) else spec
        return self._check(self.http.post("/jobs", json=body)).json()

    def spec(self, spec_hash: str) -> AnySpec:
        spec = parse_spec(self._check(self.http.get(f"/specs/{spec_hash}")).content)
        if spec.spec_hash() != spec_hash:
            raise HashMismatch(f"coordinator served spec {spec.spec_hash()} for {spec_hash}")
        return spec

    def jobs(self, state: str | None = None) -> list[dict]:
        return self._check(self.http.get("/jobs", params={"state": state} if state else None)).json()

    def job(self, job_id: int) -> dict:
        """The job as indexed. With a key the read is signed, so a job's solver sees its own checkpoints
        in full while they are withheld from verifiers (backend/disclosure.py)."""
        path = f"/jobs/{job_id}"
        headers = self._signed("GET", path) if self.private_key and self.domain else None
        return self._check(self.http.get(path, headers=headers)).json()

    def outputs(self, job_id: int, offset: int = 0, limit: int = 100) -> dict:
        """A page of an inference job's outputs with proofs; check them with pinpoint.inference."""
        params = {"offset": offset, "limit": limit}
        return self._check(self.http.get(f"/jobs/{job_id}/outputs", params=params)).json()

    # --- artifacts ---------------------------------------------------------------------------------

    def upload_artifact(self, data: bytes) -> str:
        """Upload `data` (a signed request: the uploader solves an open job or holds funds); its id."""
        digest = sha256_hex(data)
        path = f"/artifacts/{digest}"
        headers = self._signed("PUT", path, digest=bytes.fromhex(digest[2:]))
        self._check(self.http.put(path, content=data, headers=headers | {"Content-Type": "application/octet-stream"}))
        return digest

    def download_artifact(self, digest: str) -> bytes:
        data = self._check(self.http.get(f"/artifacts/{digest}")).content
        if sha256_hex(data) != digest:
            raise HashMismatch(f"artifact {digest} arrived with hash {sha256_hex(data)}")
        return data

    # --- signed worker reports ---------------------------------------------------------------------

    def _report(self, kind: str, job_id: int, body: dict) -> dict:
        path, content = f"/jobs/{job_id}/{kind}", json.dumps(body).encode()
        headers = self._signed("POST", path, content) | {"Content-Type": "application/json"}
        return self._check(self.http.post(path, content=content, headers=headers)).json()

    def report_checkpoint(self, job_id: int, index: int, step: int, state_hash: str, artifact: str, loss: float | None):
        body = {"index": index, "step": step, "state_hash": state_hash, "artifact": artifact, "loss": loss}
        try:
            return self._report("checkpoints", job_id, body)
        except CoordinatorError as exc:
            if exc.status == 409:
                raise ReportConflict(f"job {job_id}: the coordinator holds other hashes for our checkpoint {index}: {exc}") from None
            raise

    def report_verdict(self, job_id: int, interval: int, agrees: bool, detail: str):
        return self._report("verdicts", job_id, {"interval": interval, "agrees": agrees, "detail": detail})
