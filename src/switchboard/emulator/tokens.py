"""The token endpoint's rules: certificate client assertions in, app-only access tokens out."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from switchboard.emulator.apps import App, AppRegistry
from switchboard.emulator.keys_and_certificates import b64url

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
CLOCK_SKEW_SECONDS = 300  # Entra tolerates five minutes of clock difference
MAX_ASSERTION_LIFETIME = 3600
ACCESS_TOKEN_SECONDS = 3599


class TokenError(Exception):
    """An AADSTS error as the token endpoint answers it."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.code = code
        self.description = description


class AccessDenied(Exception):
    """A Graph request whose bearer token is missing or invalid (401)."""


@dataclass(frozen=True)
class Caller:
    client_id: str
    roles: frozenset[str]

    def has_any(self, roles: frozenset[str] | set[str]) -> bool:
        return bool(self.roles & roles)


def service_principal_id(client_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sp:{client_id}"))


class TokenService:
    def __init__(
        self,
        tenant_id: str,
        domain: str,
        signing_key: rsa.RSAPrivateKey,
        apps: AppRegistry,
    ) -> None:
        self.tenant_id = tenant_id
        self.domain = domain
        self.key = signing_key
        self.public_key = signing_key.public_key()
        self.kid = b64url(
            hashlib.sha256(str(self.public_key.public_numbers().n).encode()).digest()
        )[:27]
        self.apps = apps
        self._seen_jti: dict[str, float] = {}
        self._lock = threading.Lock()

    def tenant_names(self) -> set[str]:
        return {self.tenant_id.lower(), self.domain.lower()}

    # ------------------------------------------------------------------ token endpoint
    def issue(self, form: dict[str, str], endpoint_urls: set[str], base_url: str) -> dict[str, Any]:
        grant = form.get("grant_type")
        if grant != "client_credentials":
            raise TokenError(
                400,
                "unsupported_grant_type",
                70003,
                "AADSTS70003: The app requested an unsupported grant type "
                f"'{grant}'. This emulator serves grant_type=client_credentials.",
            )
        client_id = (form.get("client_id") or "").lower()
        if not client_id:
            raise TokenError(
                400,
                "invalid_request",
                900144,
                "AADSTS900144: The request body must contain the following parameter: 'client_id'.",
            )
        resource = self._resource(form.get("scope", ""), base_url)
        app = self.apps.get(client_id)
        if app is None:
            raise TokenError(
                400,
                "unauthorized_client",
                700016,
                f"AADSTS700016: Application with identifier '{client_id}' was not found in the "
                f"directory '{self.tenant_id}'. Register it with `switchboard emulator add-app`.",
            )
        if form.get("client_secret"):
            raise TokenError(
                401,
                "invalid_client",
                7000215,
                "AADSTS7000215: Invalid client secret provided. This app authenticates with a "
                "certificate: send client_assertion instead.",
            )
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
            raise TokenError(
                401,
                "invalid_client",
                7000218,
                "AADSTS7000218: The request body must contain the following parameter: "
                f"'client_assertion' (with client_assertion_type={ASSERTION_TYPE}).",
            )
        self._verify_assertion(app, form["client_assertion"], endpoint_urls)
        return self._access_token(app, resource)

    def _resource(self, scope: str, base_url: str) -> str:
        scopes = scope.split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise TokenError(
                400,
                "invalid_scope",
                1002012,
                f"AADSTS1002012: The provided value for scope '{scope}' is not valid. Client "
                "credential flows must have a scope value with /.default suffixed to the "
                "resource identifier (application ID URI).",
            )
        resource = scopes[0][: -len("/.default")].rstrip("/")
        accepted = {GRAPH_RESOURCE, GRAPH_APP_ID, base_url.rstrip("/")}
        if resource not in accepted:
            raise TokenError(
                400,
                "invalid_resource",
                500011,
                f"AADSTS500011: The resource principal named {resource} was not found in the "
                f"tenant named {self.tenant_id}. Use {GRAPH_RESOURCE}/.default or "
                f"{base_url.rstrip('/')}/.default.",
            )
        return resource

    def _verify_assertion(self, app: App, assertion: str, endpoint_urls: set[str]) -> None:
        def invalid(code: int, text: str, error: str = "invalid_client") -> TokenError:
            return TokenError(401 if error == "invalid_client" else 400, error, code, text)

        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.DecodeError as exc:
            raise invalid(
                50027, "AADSTS50027: JWT token is invalid or malformed.", "invalid_request"
            ) from exc
        alg = header.get("alg")
        if alg not in ("RS256", "PS256"):
            raise invalid(
                700027,
                f"AADSTS700027: Client assertion contains an invalid signature. [Reason - The "
                f"algorithm '{alg}' is not supported; sign with RS256 (x5t) or PS256 (x5t#S256).]",
            )
        x5t, x5t_s256 = header.get("x5t"), header.get("x5t#S256")
        cert = app.certificate_for(x5t=x5t, x5t_s256=x5t_s256)
        if cert is None:
            shown = x5t_s256 or x5t or "none"
            raise invalid(
                700027,
                "AADSTS700027: Client assertion contains an invalid signature. [Reason - The "
                f"key was not found., Thumbprint of key used by client: '{shown}']",
            )
        public_key = x509.load_pem_x509_certificate(cert.pem.encode()).public_key()
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion,
                public_key,  # type: ignore[arg-type]  # jwt.decode refuses unsupported key types
                algorithms=[alg],
                options={
                    "verify_aud": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError as exc:
            raise invalid(
                700027,
                "AADSTS700027: Client assertion contains an invalid signature. [Reason - The "
                "provided signature value did not match the expected signature value.]",
            ) from exc
        except jwt.PyJWTError as exc:
            raise invalid(
                50027, f"AADSTS50027: JWT token is invalid or malformed ({exc}).", "invalid_request"
            ) from exc
        if (
            claims.get("iss") != claims.get("sub")
            or str(claims.get("iss", "")).lower() != app.client_id
        ):
            raise invalid(
                700021,
                "AADSTS700021: Client assertion application identifier doesn't match "
                "'client_id' parameter: iss and sub must both be the client id.",
            )
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if not any(isinstance(a, str) and a.rstrip("/").lower() in endpoint_urls for a in auds):
            raise invalid(
                700212,
                f"AADSTS700212: Client assertion audience claim '{aud}' does not match the "
                f"token endpoint; expected one of {sorted(endpoint_urls)}.",
            )
        now = time.time()
        nbf, exp = claims.get("nbf"), claims.get("exp")
        if not isinstance(exp, int | float) or (
            nbf is not None and not isinstance(nbf, int | float)
        ):
            raise invalid(
                50027,
                "AADSTS50027: JWT token is invalid: exp and nbf must be numbers.",
                "invalid_request",
            )
        start = float(nbf) if nbf is not None else float(claims.get("iat", exp - 600))
        if now + CLOCK_SKEW_SECONDS < start or now - CLOCK_SKEW_SECONDS > exp:
            raise invalid(
                700024,
                f"AADSTS700024: Client assertion is not within its valid time range. Current "
                f"time: {int(now)}, assertion valid from {int(start)}, expiry time of assertion "
                f"{int(exp)}.",
            )
        if exp - start > MAX_ASSERTION_LIFETIME:
            raise invalid(
                700024,
                "AADSTS700024: Client assertion is not within its valid time range: its lifetime "
                "is over one hour.",
            )
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise invalid(
                50027,
                "AADSTS50027: JWT token is invalid: the jti claim is required.",
                "invalid_request",
            )
        with self._lock:
            self._seen_jti = {
                k: v for k, v in self._seen_jti.items() if v > now - CLOCK_SKEW_SECONDS
            }
            if jti in self._seen_jti:
                raise invalid(
                    700023,
                    "AADSTS700023: Client assertion has already been used (jti replay); sign a "
                    "new assertion with a fresh jti for each token request.",
                )
            self._seen_jti[jti] = float(exp)

    def _access_token(self, app: App, resource: str) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": now + ACCESS_TOKEN_SECONDS,
            "appid": app.client_id,
            "app_displayname": app.display_name,
            "idtyp": "app",
            "oid": service_principal_id(app.client_id),
            "sub": service_principal_id(app.client_id),
            "roles": list(app.roles),
            "tid": self.tenant_id,
            "uti": b64url(uuid.uuid4().bytes),
            "ver": "1.0",
        }
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
        return {
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "ext_expires_in": ACCESS_TOKEN_SECONDS,
            "access_token": token,
        }

    # ------------------------------------------------------------------ Graph side
    def verify_access_token(self, authorization: str | None, base_url: str) -> Caller:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise AccessDenied("Access token is empty.")
        token = authorization[7:].strip()
        try:
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["RS256"],
                audience=[GRAPH_RESOURCE, GRAPH_APP_ID, base_url.rstrip("/")],
                leeway=CLOCK_SKEW_SECONDS,
            )
        except jwt.ExpiredSignatureError as exc:
            raise AccessDenied("Lifetime validation failed, the token is expired.") from exc
        except jwt.InvalidAudienceError as exc:
            raise AccessDenied("Access token validation failure. Invalid audience.") from exc
        except jwt.PyJWTError as exc:
            raise AccessDenied("Access token validation failure. Invalid signature.") from exc
        if claims.get("tid") != self.tenant_id:
            raise AccessDenied("Access token validation failure: the token is for another tenant.")
        return Caller(client_id=claims["appid"], roles=frozenset(claims.get("roles", [])))

    def jwks(self) -> dict[str, Any]:
        nums = self.public_key.public_numbers()

        def enc(n: int) -> str:
            return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "kid": self.kid,
                    "n": enc(nums.n),
                    "e": enc(nums.e),
                    "alg": "RS256",
                }
            ]
        }
