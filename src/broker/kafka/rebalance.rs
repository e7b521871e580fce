//! Group coordination: every service's group joins at t = 0; a crashed instance stops
//! at once but the coordinator notices only after `session_timeout`; a restarted one
//! joins again. Either way the group rebalances: with the eager protocol every member
//! pauses until the new assignment; with cooperative-sticky only moved partitions
//! pause, revoked in a first round and assigned in a second. A live owner commits what
//! it completed when a partition is revoked, and the next owner starts from the
//! committed offset. Auto-commit runs per instance every `commit_interval`.

use crate::broker::Lease;
use crate::broker::kafka::assignor::{self, MemberSpec, TopicPartition, TopicSpec};
use crate::metrics::Cause;
use crate::model::{AssignorKind, CommitMode};
use crate::sim::Engine;
use crate::sim::queue::{Ev, KafkaTimer};
use crate::sim::service::Work;
use crate::sim::trace::{NA32, TraceKind};

impl Engine {
    /// Service `g`'s group forms at t = 0 with all its instances.
    pub(crate) fn kafka_join(&mut self, g: usize) {
        self.complete_rebalance(g, true);
        if self.model.services[g].commit == CommitMode::Auto {
            for i in 0..self.services[g].insts.len() {
                let at = self.model.services[g].commit_interval.0;
                self.schedule_auto_commit(g, i, at, 0);
            }
        }
    }

    /// A Kafka timer of service `g`'s group fires.
    pub(crate) fn on_kafka_timer(&mut self, timer: KafkaTimer, g: usize, i: usize, stamp: u32) {
        match timer {
            KafkaTimer::AutoCommit => self.on_auto_commit(g, i, stamp),
            KafkaTimer::Detect => self.on_detect(g, i, stamp),
            KafkaTimer::RebalanceDone => {
                if self.kafka.groups[g].generation == stamp {
                    self.complete_rebalance(g, false);
                }
            }
            KafkaTimer::AssignRevoked => {
                if self.kafka.groups[g].generation == stamp {
                    self.assign_revoked(g);
                }
            }
            KafkaTimer::Retention => self.on_retention(g, i),
            KafkaTimer::Due => self.on_due(g),
        }
    }

    /// A delayed record of service `g`'s source is due: every partition is looked at
    /// again (the next fetch that has to wait sets the next timer).
    fn on_due(&mut self, g: usize) {
        let grp = &mut self.kafka.groups[g];
        if grp.wake_armed != self.now {
            // Replaced by an earlier timer, which armed the next one.
            return;
        }
        grp.wake_armed = u64::MAX;
        grp.wake_at = u64::MAX;
        for p in 0..grp.parts.len() as u32 {
            grp.mark(p);
        }
        for i in 0..self.services[g].insts.len() {
            self.try_dispatch(g, i);
        }
    }

    /// Instance `i` restarted (as `incarnation`): it joins again and auto-commits.
    pub(crate) fn kafka_member_up(&mut self, g: usize, i: usize, incarnation: u32) {
        self.kafka.groups[g].members[i].joined = true;
        if self.model.services[g].commit == CommitMode::Auto {
            let at = self
                .now
                .saturating_add(self.model.services[g].commit_interval.0);
            self.schedule_auto_commit(g, i, at, incarnation);
        }
    }

    /// Members joined: a restarted instance joins with a new member, so the group
    /// rebalances.
    pub(crate) fn kafka_members_changed(&mut self, g: usize) {
        self.start_rebalance(g);
    }

    /// Instance `i` crashed (its work is already gone): records parked behind their key
    /// are dropped, its position in each partition dies with it (whoever reads the
    /// partition next, a new owner or this instance restarted, starts from the
    /// committed offset, as a Kafka consumer does when it is assigned a partition), and
    /// the coordinator notices after the session timeout.
    pub(crate) fn kafka_member_down(&mut self, g: usize, i: usize, incarnation: u32, cause: Cause) {
        self.kafka.groups[g].last_crash = self.now;
        let owned: Vec<u32> = self.kafka.groups[g].members[i].parts.clone();
        for &p in &owned {
            self.abandon_parked(g, p, cause);
            let gp = &mut self.kafka.groups[g].parts[p as usize];
            gp.busy_keys.clear();
            gp.parked_clean = false;
        }
        for &p in &owned {
            if self.kafka.groups[g].parts[p as usize].owner == Some(i as u32) {
                self.revoke(g, p, Some(Cause::Crash(self.now)));
            }
        }
        let at = self
            .now
            .saturating_add(self.model.services[g].session_timeout.0);
        self.kafka_timer(at, KafkaTimer::Detect, g, i as u32, incarnation);
    }

    /// Instance `i` (still running, as `incarnation`) can no longer reach its group
    /// (a network partition): unless it is back first, the coordinator removes it
    /// after the session timeout, and the group rebalances without it.
    pub(crate) fn kafka_member_unreachable(&mut self, g: usize, i: usize, incarnation: u32) {
        let at = self
            .now
            .saturating_add(self.model.services[g].session_timeout.0);
        self.kafka_timer(at, KafkaTimer::Detect, g, i as u32, incarnation);
    }

    fn schedule_auto_commit(&mut self, g: usize, i: usize, at: u64, incarnation: u32) {
        self.kafka_timer(at, KafkaTimer::AutoCommit, g, i as u32, incarnation);
    }

    /// Sets a timer of service `g`'s group for `at`.
    fn kafka_timer(&mut self, at: u64, timer: KafkaTimer, g: usize, instance: u32, stamp: u32) {
        self.queue.push(
            at,
            Ev::Kafka {
                timer,
                group: g as u32,
                instance,
                stamp,
            },
        );
    }

    fn on_auto_commit(&mut self, g: usize, i: usize, incarnation: u32) {
        let inst = &self.services[g].insts[i];
        if !inst.alive || inst.incarnation != incarnation {
            return;
        }
        // Cut off from the group by a network partition, the commit does not arrive.
        let reachable = inst.cut == 0;
        let grp = &mut self.kafka.groups[g];
        for &p in &grp.members[i].parts {
            let gp = &mut grp.parts[p as usize];
            if reachable && gp.owner == Some(i as u32) && !gp.paused {
                gp.committed = gp.committed.max(gp.base);
            }
        }
        let at = self
            .now
            .saturating_add(self.model.services[g].commit_interval.0);
        self.schedule_auto_commit(g, i, at, incarnation);
        if reachable {
            self.tr_instance(TraceKind::Commit, g, i as u32);
        }
    }

    /// Drops the records parked behind their key on partition `p`, as
    /// [`Engine::abandon`] does with work.
    fn abandon_parked(&mut self, g: usize, p: u32, cause: Cause) {
        let Some(topic) = self.model.services[g].source.topic() else {
            return;
        };
        let gp = &mut self.kafka.groups[g].parts[p as usize];
        gp.parked_clean = false;
        let parked: Vec<u64> = gp.waiting.drain(..).collect();
        for off in parked {
            let msg = match self.kafka.topics[topic].parts[p as usize].get(off) {
                Some(r) => *r,
                None => continue, // deleted: counted as expired then
            };
            let lease = Lease::Kafka {
                partition: p,
                offset: off,
            };
            self.abandon(g, &Work::detached(lease, msg), cause);
        }
    }

    fn on_detect(&mut self, g: usize, i: usize, incarnation: u32) {
        let inst = &self.services[g].insts[i];
        let member = &mut self.kafka.groups[g].members[i];
        if inst.incarnation != incarnation || (inst.alive && inst.cut == 0) || !member.joined {
            return;
        }
        member.joined = false;
        if inst.alive {
            // Cut off by a network partition: evicted while it still runs.
            self.note_evicted(g);
        }
        self.start_rebalance(g);
    }

    fn start_rebalance(&mut self, g: usize) {
        let grp = &mut self.kafka.groups[g];
        grp.generation = grp.generation.wrapping_add(1);
        grp.rebalancing = true;
        if self.model.services[g].assignor != AssignorKind::CooperativeSticky {
            // Eager protocol: every member stops fetching until the rebalance completes.
            for gp in &mut grp.parts {
                gp.paused = true;
            }
        }
        let generation = grp.generation;
        let at = self
            .now
            .saturating_add(self.model.services[g].rebalance_time.0);
        self.kafka_timer(at, KafkaTimer::RebalanceDone, g, NA32, generation);
        self.tr_instance(TraceKind::Rebalance, g, NA32);
    }

    /// The assignment Kafka's assignor gives service `g`'s joined members, as the
    /// owner-to-be of each partition.
    fn assignment(&self, g: usize) -> Vec<Option<u32>> {
        let spec = &self.model.services[g];
        let grp = &self.kafka.groups[g];
        let members: Vec<usize> = (0..grp.members.len())
            .filter(|&i| grp.members[i].joined)
            .collect();
        let ids: Vec<String> = members.iter().map(|&i| spec.member_id(i)).collect();
        let owned: Vec<Vec<TopicPartition>> = members
            .iter()
            .map(|&i| {
                grp.members[i]
                    .parts
                    .iter()
                    .filter(|&&p| grp.parts[p as usize].owner == Some(i as u32))
                    .map(|&p| TopicPartition {
                        topic: 0,
                        partition: p,
                    })
                    .collect()
            })
            .collect();
        let Some(t) = spec.source.topic() else {
            return Vec::new();
        };
        let topic = &self.model.topics[t];
        let topics = [TopicSpec {
            name: &topic.name,
            partitions: topic.partitions,
        }];
        let sub = [0usize];
        let specs: Vec<MemberSpec> = ids
            .iter()
            .zip(&owned)
            .map(|(id, o)| MemberSpec {
                id,
                subscription: &sub,
                owned: o,
            })
            .collect();
        let kind = match spec.assignor {
            AssignorKind::Range => assignor::Assignor::Range,
            AssignorKind::RoundRobin => assignor::Assignor::RoundRobin,
            AssignorKind::CooperativeSticky => assignor::Assignor::CooperativeSticky,
        };
        let result = assignor::assign(kind, &topics, &specs);
        let mut target: Vec<Option<u32>> = vec![None; topic.partitions as usize];
        for (m, parts) in members.iter().zip(&result) {
            for tp in parts {
                if let Some(t) = target.get_mut(tp.partition as usize) {
                    *t = Some(*m as u32);
                }
            }
        }
        target
    }

    /// The rebalance completes: members that did not rejoin are out, the assignor
    /// computes the new assignment, moved partitions restart from their committed
    /// offsets.
    fn complete_rebalance(&mut self, g: usize, initial: bool) {
        let cooperative = self.model.services[g].assignor == AssignorKind::CooperativeSticky;
        let grp = &mut self.kafka.groups[g];
        grp.rebalancing = false;
        for (member, inst) in grp.members.iter_mut().zip(&self.services[g].insts) {
            if !inst.alive {
                member.joined = false;
            }
        }
        let target = self.assignment(g);
        let cause = if initial {
            None
        } else {
            Some(Cause::Rebalance(self.now))
        };
        let generation = self.kafka.groups[g].generation;
        let mut second_round = false;
        for (p, &new) in target.iter().enumerate() {
            let old = self.kafka.groups[g].parts[p].owner;
            let old_alive = old.is_some_and(|o| self.services[g].insts[o as usize].alive);
            if cooperative && !initial && old == new && old_alive {
                continue; // keeps its partition and never stopped
            }
            if cooperative && !initial && old_alive && old != new {
                // Cooperative protocol: revoke now, assign in a second round.
                self.revoke(g, p as u32, cause);
                let gp = &mut self.kafka.groups[g].parts[p];
                gp.owner = None;
                gp.paused = true;
                gp.pending = new;
                second_round = true;
                continue;
            }
            if !initial {
                self.revoke(g, p as u32, cause);
            }
            let gp = &mut self.kafka.groups[g].parts[p];
            gp.owner = new;
            gp.paused = false;
            gp.pending = None;
        }
        self.rebuild_member_parts(g);
        if !initial {
            self.kafka.rebalances += 1;
            self.tr_instance(TraceKind::Rebalance, g, NA32);
        }
        if second_round {
            let at = self
                .now
                .saturating_add(self.model.services[g].rebalance_time.0);
            self.kafka_timer(at, KafkaTimer::AssignRevoked, g, NA32, generation);
        }
        for i in 0..self.services[g].insts.len() {
            self.try_dispatch(g, i);
        }
    }

    fn assign_revoked(&mut self, g: usize) {
        for gp in &mut self.kafka.groups[g].parts {
            if let Some(new) = gp.pending.take() {
                gp.owner = Some(new);
                gp.paused = false;
            }
        }
        self.rebuild_member_parts(g);
        self.kafka.rebalances += 1;
        for i in 0..self.services[g].insts.len() {
            self.try_dispatch(g, i);
        }
    }

    fn rebuild_member_parts(&mut self, g: usize) {
        let grp = &mut self.kafka.groups[g];
        for m in &mut grp.members {
            m.parts.clear();
        }
        for (p, gp) in grp.parts.iter().enumerate() {
            if let Some(o) = gp.owner.or(gp.pending) {
                grp.members[o as usize].parts.push(p as u32);
            }
        }
        for m in &mut grp.members {
            if m.cursor >= m.parts.len() {
                m.cursor = 0;
            }
        }
        grp.reindex();
    }

    /// Partition `p` leaves its owner: a live owner commits what it completed (Kafka
    /// commits on revocation), running work turns stale, queued work is dropped, and the
    /// next owner starts from the committed offset.
    fn revoke(&mut self, g: usize, p: u32, cause: Option<Cause>) {
        let commit = self.model.services[g].commit;
        let grp = &mut self.kafka.groups[g];
        grp.mark(p);
        let gp = &mut grp.parts[p as usize];
        // An owner cut off by a network partition commits nothing on its way out.
        let owner_alive = gp.owner.is_some_and(|o| {
            let inst = &self.services[g].insts[o as usize];
            inst.alive && inst.cut == 0
        });
        if owner_alive && commit != CommitMode::Before {
            gp.committed = gp.committed.max(gp.base);
        }
        let cut_since = gp
            .owner
            .and_then(|o| self.services[g].insts[o as usize].cut_since);
        let cause = match (cause, owner_alive, cut_since) {
            (Some(Cause::Rebalance(_)), false, Some(t)) => Some(Cause::Evicted(t)),
            (Some(Cause::Rebalance(_)), false, None) => Some(Cause::Crash(grp.last_crash)),
            (c, _, _) => c,
        };
        if gp.next_fetch > gp.committed {
            gp.redeliver_until = gp.redeliver_until.max(gp.next_fetch);
            gp.redeliver_cause = cause;
        }
        gp.next_fetch = gp.committed;
        gp.base = gp.committed;
        gp.done.clear();
        gp.active = 0;
        gp.busy_keys.clear();
        gp.parked_clean = false;
        let revoked = Cause::Rebalance(self.now);
        self.abandon_parked(g, p, revoked);
        self.kafka.groups[g].parts[p as usize].waiting.clear();
        self.take_back(g, |l| l.partition() == Some(p), revoked);
    }
}
