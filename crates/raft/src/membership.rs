//! Membership changes (Raft dissertation chapter 4, etcd's `ConfChangeV2`): proposing a
//! change, switching to a configuration when its entry is applied, leaving a joint
//! configuration by itself, and stepping down when removed.

use crate::progress::Progress;
use crate::raft::{ProposeError, Raft};
use proto::conf::{ConfChange, ConfState};
use proto::raft::{Entry, EntryKind, Message, MessageType};
use proto::trace::Role;
use proto::{Index, Term, NO_NODE};

impl Raft {
    /// Appends a configuration change to the leader's log. Refused while another change
    /// is pending (proposed and not yet applied, or, for a new leader, before its own
    /// term's no-op is applied) and when the change does not apply to the configuration.
    pub fn propose_conf_change(&mut self, cc: &ConfChange) -> Result<(Index, Term), ProposeError> {
        let next = self.admit_conf_change(cc).inspect_err(|_| {
            marks::mark!("raft.conf.refused");
        })?;
        let index = self.log.last_index() + 1;
        self.log.append(vec![Entry {
            term: self.term,
            index,
            kind: EntryKind::ConfChange,
            data: cc.encode(),
        }]);
        self.pending_conf_index = index;
        self.broadcast_pending = true;
        marks::mark!("raft.conf.proposed");
        if !next.is_voter(self.id) {
            self.leaving = true;
        }
        Ok((index, self.term))
    }

    /// Whether `cc` may be proposed now; if so, the configuration it would make.
    fn admit_conf_change(&self, cc: &ConfChange) -> Result<ConfState, ProposeError> {
        self.admit_proposal()?;
        if self.pending_conf_index > self.log.applied
            && !self.cfg.canaries.two_conf_changes_in_flight
        {
            return Err(ProposeError::ConfChangePending);
        }
        Ok(crate::confchange::apply(&self.conf, cc)?)
    }

    /// Applies a committed change (the application has applied its entry). A change that
    /// does not apply is ignored, as etcd does, so every member ignores it alike.
    pub(crate) fn apply_conf_change(&mut self, cc: &ConfChange) {
        // An invalid change is ignored, by every member alike.
        if let Ok(next) = crate::confchange::apply(&self.conf, cc) {
            self.switch_to(next);
        }
    }

    /// Takes on `conf`: a leader tracks the new members, forgets the removed ones, steps
    /// down if it is no longer a voter, and re-counts its commit index under the new
    /// quorum.
    pub(crate) fn switch_to(&mut self, conf: ConfState) {
        if conf.is_joint() {
            marks::mark!("raft.conf.joint_entered");
        }
        self.conf = conf;
        self.conf_switches += 1;
        if self.role != Role::Leader {
            return;
        }
        if !self.conf.is_voter(self.id) {
            // Removed: no longer lead. Its last act was committing the change; it hands
            // leadership to a voter of the new configuration that holds its whole log, if
            // one does (etcd leaves this as a TODO), so the others need not wait out an
            // election timeout.
            let last = self.log.last_index();
            let heir =
                self.conf.voters.iter().copied().find(|v| {
                    *v != self.id && self.progress.get(v).is_some_and(|p| p.matched == last)
                });
            let term = self.term;
            if let Some(to) = heir {
                self.send(Message::new(MessageType::TimeoutNow, self.id, to, term));
            }
            self.become_follower(term, NO_NODE);
            return;
        }
        let members = self.conf.members();
        self.progress.retain(|id, _| members.contains(id));
        let last = self.log.last_index();
        for id in members {
            self.progress.entry(id).or_insert_with(|| {
                let mut pr = Progress::new(last);
                pr.recent_active = true;
                pr
            });
        }
        if self
            .transferee
            .is_some_and(|t| !self.conf.voters.contains(&t))
        {
            self.transferee = None;
        }
        self.maybe_commit();
        self.broadcast_append();
    }

    /// Whether the changes in the log not yet applied would leave this member without a
    /// vote.
    pub(crate) fn pending_changes_remove_self(&self) -> bool {
        let (from, to) = (self.log.applied + 1, self.log.last_index());
        if from > to {
            return false;
        }
        let mut conf = self.conf.clone();
        for e in self.log.slice(from, to + 1, usize::MAX) {
            if e.kind != EntryKind::ConfChange {
                continue;
            }
            let next = ConfChange::decode(&e.data)
                .ok()
                .and_then(|cc| crate::confchange::apply(&conf, &cc).ok());
            if let Some(next) = next {
                conf = next;
            }
        }
        !conf.is_voter(self.id)
    }

    /// Leader: once the joint configuration it is in is applied, leave it (etcd's
    /// auto-leave). Called after every apply.
    pub(crate) fn maybe_auto_leave(&mut self) {
        if self.role != Role::Leader
            || !self.conf.is_joint()
            || !self.conf.auto_leave
            || self.pending_conf_index > self.log.applied
        {
            return;
        }
        if self.propose_conf_change(&ConfChange::leave_joint()).is_ok() {
            marks::mark!("raft.conf.auto_leave");
        }
    }

    /// The configuration this member applied last.
    pub fn conf_state(&self) -> &ConfState {
        &self.conf
    }
}
