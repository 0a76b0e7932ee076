//! Microsoft Graph client. Filled in by the integration and meetings issues.
