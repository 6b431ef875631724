//! What each intent does to the app: navigation, details, filters, and the actions sent to the
//! node (after checking they fit the selected job or alert).

use super::{App, Command, Mode};
use crate::tui::keymap::Intent;
use crate::tui::model::{DesignRequest, JobState, Level};
use crate::tui::sort::Sort;
use crate::tui::source::Action;
use crate::tui::ui::format;
use crate::tui::view::View;

impl App {
    /// The job an action from the keyboard or palette applies to: the Jobs table's selection.
    fn job_action(&mut self, intent: Intent) -> Option<Command> {
        let Some(job) =
            self.table_of(View::Jobs).selected_item().and_then(|i| self.snapshot.jobs.get(i))
        else {
            self.say("no job selected", true);
            return None;
        };
        let (action, allowed) = match intent {
            Intent::Pause => (Action::Pause(job.id), job.state == JobState::Printing),
            Intent::Resume => (Action::Resume(job.id), job.state == JobState::Paused),
            Intent::Cancel => (
                Action::Cancel(job.id),
                matches!(job.state, JobState::Queued | JobState::Printing | JobState::Paused),
            ),
            Intent::Reprint => (
                Action::Reprint(job.id),
                matches!(job.state, JobState::Failed | JobState::Cancelled),
            ),
            _ => return None,
        };
        if !allowed {
            let text =
                format!("cannot {} job {}: it is {}", action.verb(), job.id, job.state.name());
            self.say(text, true);
            return None;
        }
        self.mode = Mode::Confirm(action);
        None
    }

    /// The order an action from the keyboard or palette applies to: the Orders table's
    /// selection, when the action fits its stage.
    fn order_action(&mut self, intent: Intent) -> Option<Command> {
        let Some(order) =
            self.table_of(View::Orders).selected_item().and_then(|i| self.snapshot.orders.get(i))
        else {
            self.say("no order selected", true);
            return None;
        };
        let before_printing = order.stage.before_printing();
        let (action, allowed, why) = match intent {
            Intent::ReprintOrder => (
                Action::ReprintOrder(order.id),
                order.choice,
                "only an order of yours whose parts failed inspection is made again",
            ),
            _ => (
                Action::CancelOrder(order.id),
                order.choice || before_printing,
                "an order is called off before printing starts, or after a failed inspection",
            ),
        };
        if !allowed {
            self.say(format!("order {} is {}: {why}", order.id, order.stage.name()), true);
            return None;
        }
        self.mode = Mode::Confirm(action);
        None
    }

    /// The selected design request and the place of its picked offer among
    /// [`DesignRequest::offers_by_price`]: the cheapest unless the operator picked another.
    pub fn picked_offer(&self) -> Option<(&DesignRequest, usize)> {
        let d = self
            .table_of(View::Design)
            .selected_item()
            .and_then(|i| self.snapshot.designs.get(i))?;
        let at = if self.offer_pick.0 == d.id { self.offer_pick.1 } else { 0 };
        Some((d, at.min(d.offers.len().saturating_sub(1))))
    }

    /// Moves the pick to the next dearer (or cheaper) offer of the selected request and says
    /// which one it is.
    fn pick_offer(&mut self, dearer: bool) {
        let Some((d, at)) = self.picked_offer() else {
            self.say("no design request selected", true);
            return;
        };
        let offers = d.offers_by_price();
        if offers.is_empty() {
            let text = format!("no offers on {:?} yet", d.title);
            self.say(text, true);
            return;
        }
        let at = if dearer { (at + 1).min(offers.len() - 1) } else { at.saturating_sub(1) };
        let o = offers[at];
        let text = format!(
            "offer {} of {}: {} — {} in {}",
            at + 1,
            offers.len(),
            o.designer,
            format::money(o.price, &o.currency),
            format::duration(o.delivery_s)
        );
        self.offer_pick = (d.id.clone(), at);
        self.say(text, false);
    }

    /// Accepts the picked offer on the selected design request (the cheapest, the quicker of
    /// equal ones, unless another was picked with `]`), when the request is this node's and
    /// no offer is accepted yet; the dialog names the designer, the price and the time before
    /// anything is sent.
    fn accept_offer(&mut self) -> Option<Command> {
        let chosen = match self.picked_offer() {
            None => Err("no design request selected".to_owned()),
            Some((d, _)) if !d.mine => {
                Err(format!("{} asked for {:?}: only they accept its offers", d.requester, d.title))
            }
            Some((d, at)) => match (&d.designer, d.offers_by_price().get(at).copied()) {
                (Some(who), _) => Err(format!("{:?} already went to {who}", d.title)),
                (None, None) => Err(format!("no offers on {:?} yet", d.title)),
                (None, Some(best)) => Ok(Action::AcceptOffer {
                    request: d.id.clone(),
                    offer: best.id.clone(),
                    what: format!(
                        "{}'s offer on {} ({} in {})",
                        best.designer,
                        d.title,
                        format::money(best.price, &best.currency),
                        format::duration(best.delivery_s)
                    ),
                }),
            },
        };
        self.confirm_or_say(chosen)
    }

    /// Offers to design the selected request (typed in the palette: `offer 95 3 a note`), when
    /// it is someone else's and not yet given to a designer; the dialog names the price, the
    /// time, the request and who asked before anything is sent. Whether this node may offer
    /// (a designer with the skills asked) is the node's to say.
    pub(super) fn make_offer(&mut self, price: f64, days: u32, message: String) -> Option<Command> {
        let chosen = match self.picked_offer().map(|(d, _)| d) {
            _ if self.view != View::Design => {
                Err("offers are made in the Design view (8)".to_owned())
            }
            None => Err("no design request selected".to_owned()),
            Some(d) if d.mine => Err(format!("{:?} is this node's own request", d.title)),
            Some(d) => match &d.designer {
                Some(who) => Err(format!("{:?} already went to {who}", d.title)),
                None => {
                    let delivery_s = u64::from(days) * 86_400;
                    Ok(Action::MakeOffer {
                        request: d.id.clone(),
                        price,
                        delivery_s,
                        message,
                        what: format!(
                            "{} in {} on {} for {}",
                            format::money(price, &d.currency),
                            format::duration(delivery_s),
                            d.title,
                            d.requester
                        ),
                    })
                }
            },
        };
        self.confirm_or_say(chosen)
    }

    /// Delivers a model file on the selected request (typed in the palette: `deliver FILE
    /// [PRINTS]`), when it is someone else's and went to a designer; the node refuses it unless
    /// that designer is this node. The dialog names the file, the licence, the request and who
    /// asked; the file is read only when the action runs.
    pub(super) fn deliver(&mut self, path: String, prints: Option<u32>) -> Option<Command> {
        let chosen = match self.picked_offer().map(|(d, _)| d) {
            _ if self.view != View::Design => {
                Err("designs are delivered in the Design view (8)".to_owned())
            }
            None => Err("no design request selected".to_owned()),
            Some(d) if d.mine => Err(format!("{:?} is this node's own request", d.title)),
            Some(d) if d.designer.is_none() => {
                Err(format!("{:?} has no accepted offer yet: nothing to deliver", d.title))
            }
            Some(d) => Ok(Action::Deliver {
                request: d.id.clone(),
                what: format!(
                    "{} on {} for {} ({})",
                    std::path::Path::new(&path)
                        .file_name()
                        .map_or_else(|| path.clone(), |n| n.to_string_lossy().into_owned()),
                    d.title,
                    d.requester,
                    prints.map_or("unlimited prints".to_owned(), |n| format!("{n} prints"))
                ),
                path,
                prints,
            }),
        };
        self.confirm_or_say(chosen)
    }

    /// Opens the confirmation dialog for an action, or says why there is none.
    fn confirm_or_say(&mut self, chosen: Result<Action, String>) -> Option<Command> {
        match chosen {
            Ok(action) => self.mode = Mode::Confirm(action),
            Err(text) => self.say(text, true),
        }
        None
    }

    /// Confirms the selected printer's bed is clear, when the farm waits for that.
    fn bed_clear(&mut self) -> Option<Command> {
        let Some(p) = self
            .table_of(View::Printers)
            .selected_item()
            .and_then(|i| self.snapshot.printers.get(i))
        else {
            self.say("no printer selected", true);
            return None;
        };
        let (id, name, waiting) = (p.id, p.name.clone(), p.awaiting_clear);
        if !waiting {
            self.say(format!("{name} is not waiting for its bed to be cleared"), true);
            return None;
        }
        self.say(format!("bed of {name} confirmed clear"), false);
        Some(Command::Act(Action::BedClear(id)))
    }

    fn acknowledge(&mut self) -> Option<Command> {
        let Some(alert) =
            self.table_of(View::Alerts).selected_item().and_then(|i| self.snapshot.alerts.get(i))
        else {
            self.say("no alert selected", true);
            return None;
        };
        if alert.acknowledged_ms.is_some() {
            let text = format!("alert {} is already acknowledged", alert.id);
            self.say(text, false);
            return None;
        }
        let action = Action::Acknowledge(alert.id.clone());
        if self.flash.as_ref().is_some_and(|f| f.alert == alert.id) {
            self.flash = None;
        }
        self.say(format!("acknowledging {}", alert.id), false);
        Some(Command::Act(action))
    }

    pub(super) fn intent(&mut self, intent: Intent) -> Option<Command> {
        match intent {
            Intent::Quit => {
                self.quit = true;
                return Some(Command::Quit);
            }
            Intent::Help => self.mode = Mode::Help { scroll: 0 },
            Intent::Overview => self.overview = !self.overview,
            Intent::NextView => self.go(self.view.next()),
            Intent::PrevView => self.go(self.view.prev()),
            Intent::Go(view) => self.go(view),
            Intent::Up => self.move_by(-1),
            Intent::Down => self.move_by(1),
            Intent::PageUp => self.move_by(-self.page()),
            Intent::PageDown => self.move_by(self.page()),
            Intent::Top => self.select(self.view, 0),
            Intent::Bottom => self.select(self.view, usize::MAX),
            Intent::Details => {
                self.detail = !self.detail;
                self.scroll_into_view(self.view);
            }
            Intent::Back => {
                if self.detail {
                    self.detail = false;
                    self.scroll_into_view(self.view);
                } else if !self.table().filter.is_empty() {
                    self.tables[self.view.index()].filter.clear();
                    self.refresh(self.view);
                }
            }
            Intent::Filter => self.mode = Mode::Filter,
            Intent::Palette => self.mode = Mode::Palette { input: String::new(), choice: 0 },
            Intent::Pause
            | Intent::Resume
            | Intent::Cancel
            | Intent::Reprint
            | Intent::ReprintOrder
            | Intent::CancelOrder
            | Intent::BedClear
            | Intent::Acknowledge
            | Intent::AcceptOffer => {
                if self.read_only {
                    self.say("read-only console: actions are disabled", true);
                    return None;
                }
                return match intent {
                    Intent::ReprintOrder | Intent::CancelOrder => self.order_action(intent),
                    Intent::BedClear => self.bed_clear(),
                    Intent::Acknowledge => self.acknowledge(),
                    Intent::AcceptOffer => self.accept_offer(),
                    _ => self.job_action(intent),
                };
            }
            Intent::MoreVerbose | Intent::LessVerbose => {
                let i = Level::ALL.iter().position(|l| *l == self.row_options.log_level);
                let i = i.unwrap_or(2);
                let j = if intent == Intent::MoreVerbose {
                    (i + 1).min(Level::ALL.len() - 1)
                } else {
                    i.saturating_sub(1)
                };
                self.set_level(Level::ALL[j]);
            }
            Intent::Follow => {
                self.log_follow = !self.log_follow;
                if self.log_follow {
                    self.select(View::Log, usize::MAX);
                }
            }
            Intent::SortNext | Intent::SortReverse => self.sort(intent),
            Intent::TogglePast => {
                self.row_options.past_alerts = !self.row_options.past_alerts;
                self.refresh(View::Alerts);
            }
            Intent::LayerUp => self.layer = self.layer.saturating_add(1).min(self.max_layer()),
            Intent::LayerDown => self.layer = self.layer.min(self.max_layer()).saturating_sub(1),
            Intent::NextOffer | Intent::PrevOffer => self.pick_offer(intent == Intent::NextOffer),
            Intent::Confirm | Intent::Deny | Intent::Accept | Intent::Complete => {}
        }
        None
    }

    /// Steps the current table's sort key or turns its order around, and says what it is now.
    fn sort(&mut self, intent: Intent) {
        let view = self.view;
        let t = &mut self.tables[view.index()];
        t.sort = match (intent, t.sort) {
            (Intent::SortReverse, Some(s)) => Some(Sort { descending: !s.descending, ..s }),
            (Intent::SortReverse, None) => {
                self.say("the table is in its own order: s picks a column to sort by", true);
                return;
            }
            (_, current) => Sort::next(current, view),
        };
        let text = match t.sort.and_then(|s| Some((s.column(view)?, s.arrow()))) {
            Some((column, arrow)) => format!("sorted by {column} {arrow}"),
            None => "unsorted: the table's own order".to_owned(),
        };
        self.refresh(view);
        self.say(text, false);
    }

    pub(super) fn set_level(&mut self, level: Level) {
        self.row_options.log_level = level;
        self.refresh(View::Log);
        self.say(format!("log: {} and more important", level.name()), false);
    }
}
