//! Tenant sandbox: placeholder until the sandbox issue lands.
