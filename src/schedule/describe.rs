//! English descriptions of schedules.

use super::Schedule;

impl Schedule {
    pub fn describe(&self) -> String {
        String::from("TODO")
    }
}
