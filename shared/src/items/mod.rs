//! Synced work as items: one model over every provider's records, a filtered and searchable
//! list, and the manager's week.

mod agenda;
mod query;
mod view;

pub use agenda::{Agenda, AgendaDay, MAX_DAYS, agenda, build_agenda, time_zone};
pub use query::{ItemQuery, ItemSort, ItemsError, ItemsPage, MAX_LIMIT, get_item, list_items};
pub use view::{AgendaList, EventView, InvalidItemId, Item, ItemId, When, agenda_slot, time_key};
