"""A direct-drive alt-az mount with its servo loops, on virtual time.

Each axis (raw encoder angle θ, rad) is a torque motor on an inertia: the
inner **speed loop** (PI, bandwidth ``speed_bandwidth_hz``) drives the motor
torque, limited to the station's acceleration (``[mount] *_accel_deg_s2``:
the torque limit over the inertia); the outer **position loop** (P on the
encoder reading, bandwidth ``position_bandwidth_hz``, never faster than the
axis can brake to the target) adds to the demanded rate (velocity
feed-forward), limited to the axis speed; the demand's acceleration is fed
forward to the torque.  The controller runs
at ``rate_hz`` with ``latency_s`` between a demand and its use.  Disturbance
torques (wind gusts: band-limited noise, and motor cogging: a ripple with
the encoder angle) act on the inertia.  Encoders are quantised to
``encoder_bits``.

:class:`ServoMount` is a :class:`~pointing.hardware.base.TrajectoryMount`:
it follows a :class:`~pointing.passes.Trajectory` with a time offset (the
timing feed-forward) plus a position offset (the tracking loop), and reads
its axes.  Its state advances lazily to the clock's time whenever it is
asked, so nothing sleeps and the result does not depend on how often it is
asked.  :meth:`ServoMount.true_pointing` is where the telescope really
points (the truth model of the simulated station on the axis positions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pointing.errors import ConfigError
from pointing.hardware.base import HardwareTimeout, MountLimits
from pointing.sky.slews import slew_time

__all__ = ["ServoConfig", "ServoMount"]

_DEG = math.pi / 180.0


@dataclass(frozen=True)
class ServoConfig:
    """Servo loops and disturbances of both axes (same for az and el)."""

    position_bandwidth_hz: float = 8.0
    speed_bandwidth_hz: float = 40.0
    rate_hz: float = 500.0
    latency_s: float = 0.004
    wind_accel_rad_s2: float = 2e-4  #: RMS of the gust torque over the inertia
    wind_corner_hz: float = 2.0
    cogging_accel_rad_s2: float = 5e-5
    cogging_period_deg: float = 1.0
    encoder_bits: int = 26

    def check(self) -> None:
        for name in ("position_bandwidth_hz", "speed_bandwidth_hz", "rate_hz"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(f"servo.{name}: must be positive, got {v!r}")
        if self.position_bandwidth_hz * 2 > self.speed_bandwidth_hz:
            raise ConfigError(f"servo.position_bandwidth_hz {self.position_bandwidth_hz:g}: "
                              f"must be at most half the speed loop's "
                              f"{self.speed_bandwidth_hz:g} Hz")
        if self.speed_bandwidth_hz * 5 > self.rate_hz:
            raise ConfigError(f"servo.speed_bandwidth_hz {self.speed_bandwidth_hz:g}: must be "
                              f"at most a fifth of the controller rate {self.rate_hz:g} Hz")
        if not (math.isfinite(self.latency_s) and 0 <= self.latency_s < 1):
            raise ConfigError(f"servo.latency_s: must be within 0..1 s, got {self.latency_s!r}")


class _Gusts:
    """Seeded band-limited noise (first-order corner) for both axes, one value per step."""

    def __init__(self, seed: int, rms: float, corner_hz: float, dt: float):
        self._a = math.exp(-2 * math.pi * corner_hz * dt)
        self._s = rms * math.sqrt(1 - self._a**2)
        self._seed = seed
        self._block = -1
        self._noise = np.zeros((0, 2))
        self._rms = rms

    def value(self, step: int, state: list[float]) -> None:
        """Advance the AR(1) gust state (in place) by one controller step."""
        block, i = divmod(step, 4096)
        if block != self._block:  # seeded per block of steps: resumable
            self._noise = np.random.default_rng([self._seed, 103, block]).normal(
                size=(4096, 2))
            self._block = block
        state[0] = self._a * state[0] + self._s * float(self._noise[i, 0])
        state[1] = self._a * state[1] + self._s * float(self._noise[i, 1])


class ServoMount:
    """The simulated mount of a pass (see the module docstring)."""

    def __init__(self, station: Any, clock: Any, truth_model: Any, config: ServoConfig,
                 *, seed: int = 0, start_az: float = 0.0, start_el: float = 0.5):
        config.check()
        m = station.mount
        self._limits = MountLimits(m.az_min_deg * _DEG, m.az_max_deg * _DEG,
                                   m.el_min_deg * _DEG, m.el_max_deg * _DEG)
        self._speed = (m.az_speed_deg_s * _DEG, m.el_speed_deg_s * _DEG)
        self._accel = (m.az_accel_deg_s2 * _DEG, m.el_accel_deg_s2 * _DEG)
        self._settle = float(getattr(m, "settle_s", 2.0))
        self.clock = clock
        self.truth_model = truth_model
        self.config = config
        self._dt = 1.0 / config.rate_hz
        self._kp = 2 * math.pi * config.position_bandwidth_hz
        self._kv = 2 * math.pi * config.speed_bandwidth_hz
        self._ki = self._kv**2 / 4.0
        self._q = 2 * math.pi / 2**config.encoder_bits
        self._gusts = _Gusts(seed, config.wind_accel_rad_s2, config.wind_corner_hz, self._dt)
        self._gust = [0.0, 0.0]
        self._step = 0
        self._theta = [float(start_az), float(start_el)]
        self._omega = [0.0, 0.0]
        self._integ = [0.0, 0.0]
        self._t = clock.elapsed_s
        self._mode: tuple[str, Any] = ("hold", (float(start_az), float(start_el)))
        self._offsets: list[tuple[float, ...]] = [(-1e9, 0.0, 0.0, 0.0, 0.0)]
        self._traj: Any = None
        self._traj_shift = 0.0
        self._time_offset = 0.0

    # -- Mount -------------------------------------------------------------
    def limits(self) -> MountLimits:
        return self._limits

    def position(self) -> tuple[float, float]:
        self._advance()
        q = self._q
        return round(self._theta[0] / q) * q, round(self._theta[1] / q) * q

    def slew(self, az: float, el: float, *, timeout_s: float = 120.0) -> None:
        """Go to raw (az, el): the trapezoidal-profile time plus settling, then hold there."""
        self._limits.check(az, el)
        self._advance()
        t = float(max(slew_time((az - self._theta[0]) / _DEG, self._speed[0] / _DEG,
                                self._accel[0] / _DEG),
                      slew_time((el - self._theta[1]) / _DEG, self._speed[1] / _DEG,
                                self._accel[1] / _DEG))) + self._settle
        if t > timeout_s:
            raise HardwareTimeout(f"slew: not arrived after {timeout_s:.0f} s")
        self.clock.sleep(t)
        self._t = self.clock.elapsed_s
        self._theta, self._omega, self._integ = [float(az), float(el)], [0.0, 0.0], [0.0, 0.0]
        self._mode = ("hold", (float(az), float(el)))

    def track(self, az_rate: float, el_rate: float) -> None:
        self._advance()
        self._mode = ("rate", (self._theta[0], self._theta[1], float(az_rate),
                               float(el_rate), self._t))

    def stop(self) -> None:
        self._advance()
        self._mode = ("hold", (self._theta[0], self._theta[1]))

    # -- TrajectoryMount ---------------------------------------------------
    def follow(self, trajectory: Any, *, time_offset_s: float = 0.0) -> None:
        """Follow the trajectory's raw demands at clock time + *time_offset_s*."""
        self._advance()
        if trajectory is not self._traj:
            self._traj = trajectory
            self._traj_shift = float(trajectory.seconds(self.clock.now())) - self.clock.elapsed_s
        self._time_offset = float(time_offset_s)
        self._mode = ("follow", None)

    def offset(self, d_az: float, d_el: float, az_rate: float = 0.0,
               el_rate: float = 0.0) -> None:
        """Offset (raw rad, changing at the rates in rad/s) added to the demand, used after
        the latency."""
        self._advance()
        self._offsets = self._offsets[-4:]
        self._offsets.append((self._t + self.config.latency_s, float(d_az), float(d_el),
                              float(az_rate), float(el_rate)))

    # -- truth -------------------------------------------------------------
    def true_pointing(self) -> tuple[float, float]:
        """Where the telescope really points now (observed az, el; rad)."""
        self._advance()
        a, e = self.truth_model.true_from_raw(self._theta[0], self._theta[1])
        return float(a), float(e)

    def axes(self) -> tuple[float, float, float, float]:
        """True axis angles and rates (raw az, el rad; rad/s), for tests."""
        self._advance()
        return self._theta[0], self._theta[1], self._omega[0], self._omega[1]

    # -- the loops ---------------------------------------------------------
    def _demands(self, t: np.ndarray) -> tuple[np.ndarray, ...]:
        """Demanded position, rate and acceleration of both axes at controller times *t*."""
        kind, p = self._mode
        z = np.zeros_like(t)
        if kind == "hold":
            return z + p[0], z + p[1], z, z, z, z
        if kind == "rate":
            dt = t - p[4]
            return p[0] + p[2] * dt, p[1] + p[3] * dt, z + p[2], z + p[3], z, z
        tr = self._traj
        ts = t + self._traj_shift + self._time_offset
        h = self._dt
        grid = np.concatenate([ts[:1] - h, ts, ts[-1:] + h])
        grid = np.clip(grid, tr.t_s[0], tr.t_s[-1])
        az, el = tr.demand_at(grid)
        vaz = (az[2:] - az[:-2]) / (2 * h)
        vel = (el[2:] - el[:-2]) / (2 * h)
        aaz = (az[2:] - 2 * az[1:-1] + az[:-2]) / h**2
        ael = (el[2:] - 2 * el[1:-1] + el[:-2]) / h**2
        return az[1:-1], el[1:-1], vaz, vel, aaz, ael

    def _offset_at(self, t: float) -> tuple[float, float]:
        for te, da, de, ra, re in reversed(self._offsets):
            if te <= t:
                return da + ra * (t - te), de + re * (t - te)
        return 0.0, 0.0

    def _advance(self) -> None:
        """Integrate both axes from the state's time to the clock's (controller steps)."""
        n = int((self.clock.elapsed_s - self._t) / self._dt + 1e-9)
        if n <= 0:
            return
        t = self._t + self._dt * np.arange(n)  # time-tagged demands: no latency
        daz, del_, vaz, vel, aaz, ael = self._demands(t)
        dem = (daz.tolist(), del_.tolist())
        rate = (vaz.tolist(), vel.tolist())
        accel = (aaz.tolist(), ael.tolist())
        dt, kp, kv, ki, q = self._dt, self._kp, self._kv, self._ki, self._q
        cog_k = 2 * math.pi / (self.config.cogging_period_deg * _DEG)
        cog = self.config.cogging_accel_rad_s2
        for k in range(n):
            self._gusts.value(self._step, self._gust)
            self._step += 1
            off = self._offset_at(self._t)
            for ax in (0, 1):
                th, om = self._theta[ax], self._omega[ax]
                enc = round(th / q) * q
                a_max = self._accel[ax]
                e_pos = dem[ax][k] + off[ax] - enc
                # P, but never faster than the axis can brake to the target (large steps)
                w_fb = kp * e_pos
                w_brake = math.sqrt(1.6 * a_max * abs(e_pos))
                w_cmd = rate[ax][k] + max(-w_brake, min(w_brake, w_fb))
                w_cmd = max(-self._speed[ax], min(self._speed[ax], w_cmd))
                err = w_cmd - om
                acc = accel[ax][k] + kv * err + self._integ[ax]
                if -a_max < acc < a_max:  # integrate only while the torque is not saturated
                    self._integ[ax] += ki * err * dt
                acc = max(-a_max, min(a_max, acc))
                acc_total = acc + self._gust[ax] + cog * math.sin(cog_k * th)
                self._omega[ax] = om + acc_total * dt
                self._theta[ax] = th + (om + 0.5 * acc_total * dt) * dt
            self._t += dt
