//! The write actions a provider offers to automations, declared by its module: the fields a step
//! fills in (templated), the write scope it needs, what it costs and the minutes it saves.

/// One field of an action's request, filled in by a step's (templated) parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub required: bool,
    /// What goes in it, for the builder's field picker.
    pub help: &'static str,
}

impl Param {
    pub const fn required(name: &'static str, help: &'static str) -> Self {
        Param { name, required: true, help }
    }

    pub const fn optional(name: &'static str, help: &'static str) -> Self {
        Param { name, required: false, help }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionSpec {
    /// `{provider}.{verb}`, as steps name it: `slack.postMessage`.
    pub id: &'static str,
    /// What it does, as a receipt says it: "Posted a message in Slack".
    pub receipt: &'static str,
    pub params: &'static [Param],
    /// The OAuth scope it needs beyond reading, if any (asked for by incremental consent).
    pub scope: Option<&'static str>,
    /// Provider requests it spends from the connection's budget.
    pub calls: u32,
    /// The minutes a manager would spend doing it by hand.
    pub minutes_saved: u32,
    /// Offered on the premium plan only.
    pub premium: bool,
}

impl ActionSpec {
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }
}
