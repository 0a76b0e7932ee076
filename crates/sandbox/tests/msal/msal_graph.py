"""Microsoft's own libraries against the TLS sandbox, unmodified.

MSAL for Python signs in (auth-code flow with PKCE, state and nonce built and checked by
MSAL), reads the account back from its cache and refreshes silently; the token it got drives
msgraph-sdk (Microsoft Graph SDK for Python). Every step prints one `ok …` line; the first
failure raises with a message saying what Microsoft's library saw, and the process exits 1.

Environment (set by run.sh from the sandbox's ready line): SANDBOX_BASE (https://127.0.0.1:P),
SANDBOX_CA (the CA's PEM file), SANDBOX_TENANT, SANDBOX_CLIENT, SANDBOX_HOST_UPN.
Secrets (codes, tokens) are never printed.
"""

import asyncio
import base64
import json
import os
import ssl
import sys
import urllib.parse

import httpx
import jwt  # PyJWT, a dependency of MSAL
import msal
import requests

BASE = os.environ["SANDBOX_BASE"].rstrip("/")
CA = os.environ["SANDBOX_CA"]
TENANT = os.environ["SANDBOX_TENANT"]
CLIENT = os.environ["SANDBOX_CLIENT"]
HOST_UPN = os.environ["SANDBOX_HOST_UPN"]
AUTHORITY = f"{BASE}/{TENANT}"
# MSAL validates an authority it does not know against an instance-discovery endpoint; by
# default that is login.microsoftonline.com, here the sandbox's own (a documented MSAL option).
INSTANCE_DISCOVERY = f"{BASE}/common/discovery/instance"
REDIRECT = "http://localhost:8765"
SCOPES = ["User.Read", "User.ReadBasic.All", "OnlineMeetings.ReadWrite"]


def ok(msg):
    print(f"ok {msg}", flush=True)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def claims(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def browser(auth_uri):
    """The browser leg: the sandbox runs with --auto-consent, so /authorize answers 302 to the
    redirect URI at once. Returns (status, location or page text)."""
    r = requests.get(auth_uri, allow_redirects=False, verify=CA, timeout=30)
    return r.status_code, r.headers.get("location") or r.text


def app(client_id=CLIENT, authority=AUTHORITY):
    return msal.PublicClientApplication(
        client_id,
        authority=authority,
        instance_discovery=INSTANCE_DISCOVERY,
        verify=CA,
    )


def sign_in(pca, authority_label):
    flow = pca.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT, login_hint=HOST_UPN)
    check("error" not in flow, f"initiate_auth_code_flow failed: {flow.get('error')}")
    check("code_challenge" in flow["auth_uri"], "MSAL builds PKCE itself")
    check("nonce=" in flow["auth_uri"], "MSAL sends a nonce")
    status, location = browser(flow["auth_uri"])
    check(status == 302, f"authorize must redirect, got {status}: {location[:300]}")
    check(location.startswith("http://localhost:8765"), f"redirect to the app, got {location[:80]}")
    auth_response = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    check("code" in auth_response, f"redirect carries a code: {sorted(auth_response)}")
    result = pca.acquire_token_by_auth_code_flow(flow, auth_response)
    check("access_token" in result,
          f"MSAL redeemed the code ({authority_label}): {result.get('error')} {result.get('error_description', '')[:300]}")
    idc = result.get("id_token_claims", {})
    check(idc.get("preferred_username") == HOST_UPN, f"id token names the user: {idc.get('preferred_username')}")
    check(idc.get("tid") == TENANT, "id token tid = tenant")
    check(idc.get("aud") == CLIENT, "id token aud = client id")
    return flow, auth_response, result


def page_sign_in():
    """The interactive browser leg without --auto-consent: GET the page, pick the account, POST
    Accept (what a person does), follow the 302 to the redirect URI."""
    import re
    knobs = f"{BASE}/_sandbox/knobs"
    requests.post(knobs, json={"auto_consent": False}, verify=CA, timeout=30).raise_for_status()
    try:
        pca = app()
        flow = pca.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT)
        page = requests.get(flow["auth_uri"], allow_redirects=False, verify=CA, timeout=30)
        check(page.status_code == 200 and 'id="accept"' in page.text, f"the sign-in page, got {page.status_code}")
        action = re.search(r'<form id="signin" method="post" action="([^"]+)"', page.text).group(1)
        txn = re.search(r'name="txn" value="([^"]+)"', page.text).group(1)
        posted = requests.post(f"{BASE}{action}", data={"txn": txn, "account": HOST_UPN, "action": "accept"},
                               allow_redirects=False, verify=CA, timeout=30)
        check(posted.status_code == 302, f"Accept redirects, got {posted.status_code}: {posted.text[:200]}")
        response = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(posted.headers["location"]).query))
        result = pca.acquire_token_by_auth_code_flow(flow, response)
        check("access_token" in result, f"MSAL redeemed the page's code: {result.get('error')}")
        check(result["id_token_claims"]["preferred_username"] == HOST_UPN, "signed in as the account picked")
    finally:
        requests.post(knobs, json={"auto_consent": True}, verify=CA, timeout=30).raise_for_status()


def verify_id_token_signature(id_token, pca_authority_issuer):
    """MSAL 1.38+ no longer checks id token signatures (its docs say the app must); do what
    an app would: fetch the JWKS from the discovery document and verify RS256."""
    conf = requests.get(f"{AUTHORITY}/v2.0/.well-known/openid-configuration", verify=CA, timeout=30).json()
    jwks = requests.get(conf["jwks_uri"], verify=CA, timeout=30).json()
    kid = jwt.get_unverified_header(id_token)["kid"]
    keys = [k for k in jwks["keys"] if k["kid"] == kid]
    check(keys, f"the id token's kid {kid} is in the JWKS")
    key = jwt.PyJWK(keys[0]).key
    decoded = jwt.decode(id_token, key, algorithms=["RS256"], audience=CLIENT, issuer=conf["issuer"])
    check(decoded["iss"] == pca_authority_issuer, f"iss {decoded['iss']} = discovery issuer")
    return decoded


class MsalCredential:
    """An azure.core TokenCredential over MSAL's cache, so msgraph-sdk sends MSAL's token."""

    def __init__(self, pca, account):
        self.pca, self.account = pca, account

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken
        result = self.pca.acquire_token_silent(SCOPES, account=self.account)
        check(result and "access_token" in result, "silent token for Graph")
        return AccessToken(result["access_token"], int(result.get("expires_in", 3600)) + int(__import__("time").time()))

    def get_token_info(self, *scopes, options=None):
        from azure.core.credentials import AccessTokenInfo
        token = self.get_token(*scopes)
        return AccessTokenInfo(token.token, token.expires_on)


def graph_client(credential):
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.graph_request_adapter import options as graph_options
    from msgraph_core import GraphClientFactory

    host = urllib.parse.urlsplit(BASE).hostname
    auth = AzureIdentityAuthenticationProvider(credential, scopes=[f"https://graph.microsoft.com/{s}" for s in SCOPES], allowed_hosts=[host])
    ctx = ssl.create_default_context(cafile=CA)
    # A client of our own (to trust the CA) needs the SDK's default options passed back in: they
    # hold the /users/me-token-to-replace -> /me rewrite that `client.me` relies on.
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(verify=ctx, timeout=30), options=graph_options)
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = f"{BASE}/v1.0"
    return GraphServiceClient(request_adapter=adapter)


async def graph_calls(client):
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.models.online_meeting import OnlineMeeting
    from msgraph.generated.users.item.online_meetings.create_or_get.create_or_get_post_request_body import (
        CreateOrGetPostRequestBody,
    )
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder
    from msgraph_core.requests.batch_request_content import BatchRequestContent
    from msgraph_core.requests.batch_request_item import BatchRequestItem

    me = await client.me.get()
    check(me.user_principal_name == HOST_UPN, f"/me is the signed-in user: {me.user_principal_name}")
    ok("msgraph-sdk GET /me")

    q = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
        filter="startswith(displayName,'Zo')", count=True, top=5)
    cfg = RequestConfiguration(query_parameters=q)
    cfg.headers.add("ConsistencyLevel", "eventual")
    users = await client.users.get(request_configuration=cfg)
    check(users.value, "startswith filter finds users")
    check(all(u.display_name.startswith("Zo") for u in users.value), "every user matches the filter")
    check(users.odata_count is not None, "@odata.count with ConsistencyLevel: eventual")
    ok(f"msgraph-sdk GET /users $filter + ConsistencyLevel ({len(users.value)} users, count {users.odata_count})")

    body = CreateOrGetPostRequestBody(
        external_id="msal-contract-1", subject="MSAL contract meeting")
    first = await client.me.online_meetings.create_or_get.post(body)
    second = await client.me.online_meetings.create_or_get.post(body)
    check(first.id and first.id == second.id, "createOrGet twice is one meeting")
    check(first.join_web_url, "the meeting has a join URL")
    ok("msgraph-sdk createOrGet twice = one meeting")

    patched = await client.me.online_meetings.by_online_meeting_id(first.id).patch(
        OnlineMeeting(subject="MSAL contract meeting (renamed)"))
    check(patched.subject == "MSAL contract meeting (renamed)", f"PATCH changed the subject: {patched.subject}")
    ok("msgraph-sdk PATCH onlineMeeting")

    from kiota_abstractions.api_error import APIError

    def batch_of_two():
        batch = BatchRequestContent()
        me_item = BatchRequestItem(request_information=client.me.to_get_request_information(), id="1")
        meeting_item = BatchRequestItem(
            request_information=client.me.online_meetings.by_online_meeting_id(first.id).to_get_request_information(), id="2")
        batch.add_request("1", me_item)
        batch.add_request("2", meeting_item)
        return batch, (me_item, meeting_item)

    # msgraph-core 1.5 keeps each item's absolute URL (microsoftgraph/msgraph-sdk-python#1015,
    # msgraph-sdk-python-core#1116); Graph answers 400 to that, and so does the sandbox.
    batch, _ = batch_of_two()
    try:
        await client.batch.post(batch)
        raise AssertionError("a $batch with absolute item URLs must be refused, as Graph does")
    except APIError as e:
        check(e.response_status_code == 400, f"absolute batch URLs: 400, got {e.response_status_code}")
    ok("msgraph-sdk $batch with the SDK's absolute item URLs: 400, as Graph answers")

    # The workaround users apply (issue #1015): make each URL relative to the version.
    batch, items = batch_of_two()
    for item in items:
        item.url = item.url.replace(f"{BASE}/v1.0", "", 1)
    batch_resp = await client.batch.post(batch)
    r1, r2 = batch_resp.get_response_by_id("1"), batch_resp.get_response_by_id("2")
    check(r1 is not None and r1.status == 200, f"$batch item 1 (GET /me) 200, got {r1 and r1.status}")
    check(r2 is not None and r2.status == 200, f"$batch item 2 (GET meeting) 200, got {r2 and r2.status}")
    ok("msgraph-sdk $batch of two GETs (relative URLs)")

    await client.me.online_meetings.by_online_meeting_id(first.id).delete()
    ok("msgraph-sdk DELETE onlineMeeting")

    try:
        await client.users.by_user_id("nobody.here@contoso.example").get()
        raise AssertionError("an unknown user must be a 404")
    except ODataError as e:
        check(e.response_status_code == 404, f"404, got {e.response_status_code}")
        check(e.error and e.error.code == "Request_ResourceNotFound", f"Graph error code, got {e.error and e.error.code}")
    ok("msgraph-sdk 404 as ODataError Request_ResourceNotFound")


def negative(good_code_response):
    # Unregistered redirect URI: Microsoft shows an error page, no redirect (AADSTS50011).
    pca = app()
    flow = pca.initiate_auth_code_flow(SCOPES, redirect_uri="http://localhost:8765/not-registered")
    status, page = browser(flow["auth_uri"])
    check(status == 400 and "AADSTS50011" in page, f"unregistered redirect URI: 400 AADSTS50011, got {status}")
    ok("unregistered redirect URI: error page AADSTS50011, no redirect")

    # Wrong client id: the authorize page refuses (AADSTS700016) and so does the token endpoint,
    # which MSAL reports as Microsoft's error.
    wrong = app(client_id="00000000-0000-0000-0000-00000000beef")
    flow = wrong.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT)
    status, page = browser(flow["auth_uri"])
    check(status == 400 and "AADSTS700016" in page, f"unknown client: 400 AADSTS700016, got {status}")
    result = wrong.acquire_token_by_auth_code_flow(
        flow, {"code": good_code_response["code"], "state": flow["state"]})
    check(result.get("error") == "unauthorized_client", f"MSAL reports unauthorized_client, got {result.get('error')}")
    check("AADSTS700016" in result.get("error_description", ""), "MSAL keeps the AADSTS code")
    check(700016 in result.get("error_codes", []), "error_codes as Microsoft sends them")
    ok("wrong client id: MSAL reports unauthorized_client AADSTS700016")


def main():
    pca = app()
    flow, auth_response, result = sign_in(pca, "tenant GUID")
    ok("MSAL auth-code flow with PKCE; state and nonce checked by MSAL")

    decoded = verify_id_token_signature(result["id_token"], f"{BASE}/{TENANT}/v2.0")
    check(decoded.get("nonce"), "the id token echoes the nonce")
    ok("id token RS256 signature verified against the JWKS (PyJWT)")

    # MSAL checked the nonce itself; show it by replaying the same redemption with a changed
    # nonce in the flow: MSAL must refuse the id token.
    tampered = dict(flow, nonce="not-the-nonce")
    try:
        status, location = browser(flow["auth_uri"])
        replay = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
        pca.acquire_token_by_auth_code_flow(tampered, replay)
        raise AssertionError("MSAL must reject an id token whose nonce does not match")
    except RuntimeError as e:
        check("nonce" in str(e).lower(), f"MSAL's nonce check fired: {e}")
    ok("MSAL rejects an id token with another nonce")

    try:
        pca.acquire_token_by_auth_code_flow(flow, dict(auth_response, state="forged"))
        raise AssertionError("MSAL must reject a forged state")
    except ValueError as e:
        check("state" in str(e).lower(), f"MSAL's state check fired: {e}")
    ok("MSAL rejects a forged state")

    accounts = pca.get_accounts()
    check(len(accounts) == 1 and accounts[0]["username"] == HOST_UPN, f"one cached account: {[a['username'] for a in accounts]}")
    check(accounts[0]["home_account_id"].endswith("." + TENANT), "home_account_id = oid.tid")
    ok("account read back from MSAL's token cache")

    silent = pca.acquire_token_silent(SCOPES, account=accounts[0], force_refresh=True)
    check(silent and "access_token" in silent, f"silent refresh: {silent and silent.get('error')}")
    check(silent["access_token"] != result["access_token"], "a new access token came from the refresh token")
    check(silent.get("token_source") == "identity_provider", "MSAL went to the token endpoint")
    ok("acquire_token_silent(force_refresh=True) used the refresh token")

    page_sign_in()
    ok("MSAL sign-in through the sandbox's sign-in page (account picked, Accept posted)")

    for authority in (f"{BASE}/organizations", f"{BASE}/common", f"{BASE}/contoso.example"):
        other = app(authority=authority)
        _, _, r = sign_in(other, authority)
        check(r["id_token_claims"]["iss"] == f"{BASE}/{TENANT}/v2.0", "tokens name the tenant as issuer")
    ok("MSAL signs in through organizations, common and the verified domain")

    client = graph_client(MsalCredential(pca, accounts[0]))
    asyncio.run(graph_calls(client))

    negative(auth_response)
    print("MSAL + Graph SDK contract: all steps passed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - the message is the report
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
