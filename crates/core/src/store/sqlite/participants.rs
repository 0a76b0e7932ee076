//! SQLite statements of the `participants` table(s), behind [`crate::store::participants::ParticipantTable`].

use rusqlite::Connection;

use crate::store::participants::ParticipantTable;

impl ParticipantTable for Connection {}
