mod arg_matches;
mod matched_arg;
mod value_source;

pub use arg_matches::IdsRef;
pub use arg_matches::RawValues;
pub use arg_matches::Values;
pub use arg_matches::ValuesRef;
pub use arg_matches::{ArgMatches, Indices};
pub use value_source::ValueSource;

pub(crate) use arg_matches::SubCommand;
pub(crate) use matched_arg::MatchedArg;
