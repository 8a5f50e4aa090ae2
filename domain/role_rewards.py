"""Roles a member earns by level, and the role changes that bring a member in line.

Used on a level-up and to re-sync a member who left and came back. Only reward roles are
ever added or removed: a member's other roles are not this feature's business.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RoleReward:
    """A role granted on reaching a level."""

    level: int
    role_id: int

    def __post_init__(self) -> None:
        if self.level < 0:
            raise ValueError(f"reward level must not be negative, got {self.level}")


@dataclass(frozen=True, slots=True)
class RoleChanges:
    """Reward roles to add and to remove; both empty when the member is in line."""

    add: frozenset[int] = frozenset()
    remove: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.add or self.remove)


def reward_roles_for(rewards: Iterable[RoleReward], level: int, *, stack: bool) -> frozenset[int]:
    """Reward roles a member at ``level`` should hold.

    ``stack``: every reward at or below the level; otherwise only the highest level
    reached (all of its roles, if several rewards share that level).
    """
    reached = [reward for reward in rewards if reward.level <= level]
    if stack or not reached:
        return frozenset(reward.role_id for reward in reached)
    top = max(reward.level for reward in reached)
    return frozenset(reward.role_id for reward in reached if reward.level == top)


def role_changes(
    rewards: Iterable[RoleReward], level: int, current_role_ids: Iterable[int], *, stack: bool
) -> RoleChanges:
    """Reward roles to add and remove so the member holds exactly what ``level`` earns."""
    rewards = tuple(rewards)
    wanted = reward_roles_for(rewards, level, stack=stack)
    current = frozenset(current_role_ids)
    reward_role_ids = frozenset(reward.role_id for reward in rewards)
    return RoleChanges(add=wanted - current, remove=(current & reward_role_ids) - wanted)
