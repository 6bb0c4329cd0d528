//! Automations: a trigger, conditions and steps that do a manager's routine work in their tools.
//! This module holds the definition and its checks, the schedules, the sandboxed templates and
//! the dry run; the actions themselves are declared by each provider's module.

pub mod condition;
mod dry_run;
pub mod model;
mod runner;
pub mod schedule;
pub mod service;
pub mod template;
pub mod templates;

pub use condition::{Combine, Conditions, Field, Rule, Test};
pub use dry_run::{DryRun, PREVIEWED_ITEMS, StepPreview, dry_run, due_instant, due_soon_key, due_within, matching};
pub use model::{
    AutomationLimits, AutomationSpec, Invalid, ItemFilter, OnFailure, PlanRefusal, ResolvedAction, Step, Trigger,
    find_action,
};
pub use runner::{AutomationJob, RunResult, RunnerError, StepReceipt, TriggerEvent, run_automation};
