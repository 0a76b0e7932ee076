//! The core's integration test binary: flows against a `tsched-sandbox` spawned on
//! 127.0.0.1:0 over real HTTP. One module per area; shared helpers in `support`.

mod batch;
mod exports;
mod integration_flow;
mod invitations;
mod meetings;
mod membership;
mod paging;
mod signin;
mod support;
