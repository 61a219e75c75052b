#[doc(hidden)]
pub use crate::backend::private::DieselReserveSpecialization;
pub use crate::query_builder::insert_statement::DefaultValues;
