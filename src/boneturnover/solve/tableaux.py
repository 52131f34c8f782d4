"""Rosenbrock methods as data: the coefficients the integrator is compiled with.

Each method is given in the form of :mod:`boneturnover.solve.rodas`: stage ``i`` solves
``(I/(h gamma) - J) k_i = f(t + alpha_i h, y + sum_j A_ij k_j) + h gamma_i df/dt
+ sum_j C_ij / h k_j``; ``y_new = y + sum_i M_i k_i``; the error estimate is
``sum_i E_i k_i``. ``A`` and ``C`` are strictly lower-triangular, stored row-wise
(``A[(i-1)i/2 + j]`` for stage ``i`` > ``j``, from 0); a stage whose ``newf`` is False reuses
the right-hand side of the stage before it. ``elo`` is the order of the error estimate's
leading term (the step factor is ``err^(-1/elo)``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Tableau", "METHODS", "DEFAULT_METHOD"]


@dataclass(frozen=True)
class Tableau:
    """One Rosenbrock method's coefficients and where they are published."""

    name: str
    source: str
    order: int
    gamma: float
    alpha: tuple[float, ...]
    gamma_i: tuple[float, ...]
    A: tuple[float, ...]
    C: tuple[float, ...]
    M: tuple[float, ...]
    E: tuple[float, ...]
    newf: tuple[bool, ...]
    elo: float

    @property
    def stages(self) -> int:
        return len(self.alpha)

    @property
    def rhs_per_step(self) -> int:
        """Right-hand sides per accepted step: the new stages and one at the new point."""
        return sum(self.newf[1:]) + 1

    def source_block(self) -> str:
        """The method as the module-level constants of the integrator's source (the names
        of ``solve/rodas.py``, bound to :meth:`as_tuple` and :attr:`elo`)."""
        return (f"# {self.name}: {self.source}\n"
                f"_S, _GAMMA, _ALPHA, _GAMMA_I, _A, _C, _M, _E, _NEWF = {self.as_tuple()!r}\n"
                f"_ELO = {self.elo!r}\n")

    def as_tuple(self) -> tuple:
        """``(stages, gamma, alpha, gamma_i, A, C, M, E, newf)``, as the integrator takes it."""
        return (self.stages, self.gamma, self.alpha, self.gamma_i, self.A, self.C, self.M,
                self.E, self.newf)

    def __post_init__(self) -> None:
        s = len(self.alpha)
        tri = s * (s - 1) // 2
        if not (len(self.gamma_i) == len(self.M) == len(self.E) == len(self.newf) == s
                and len(self.A) == len(self.C) == tri and self.newf[0]):
            raise ValueError(f"tableau {self.name}: inconsistent lengths")


_G3 = 0.43586652150845899941601945119356

METHODS: dict[str, Tableau] = {
    "rodas4": Tableau(
        name="RODAS4", order=4,
        source="Hairer E, Wanner G. Solving ODEs II, 2nd ed. Springer 1996, IV.7 (rodas.f); "
               "6 stages, stiffly accurate, L-stable, embedded order 3",
        gamma=0.25,
        alpha=(0.0, 0.386, 0.21, 0.63, 1.0, 1.0),
        gamma_i=(0.25, -0.1043, 0.1035, -0.0362, 0.0, 0.0),
        A=(1.544, 0.9466785280815826, 0.2557011698983284, 3.314825187068521,
           2.896124015972201, 0.9986419139977817, 1.221224509226641, 6.019134481288629,
           12.53708332932087, -0.687886036105895, 1.221224509226641, 6.019134481288629,
           12.53708332932087, -0.687886036105895, 1.0),
        C=(-5.6688, -2.430093356833875, -0.2063599157091915, -0.1073529058151375,
           -9.594562251023355, -20.47028614809616, 7.496443313967647, -10.24680431464352,
           -33.99990352819905, 11.7089089320616, 8.083246795921522, -7.981132988064893,
           -31.52159432874371, 16.3193054312314, -6.058818238834054),
        M=(1.221224509226641, 6.019134481288629, 12.53708332932087, -0.687886036105895,
           1.0, 1.0),
        E=(0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
        newf=(True, True, True, True, True, True), elo=4.0),
    "rodas4p2": Tableau(
        name="Rodas4P2", order=4,
        source="Steinebach G. Improvement of Rosenbrock-Wanner method RODASP. In: Reis T, "
               "Grundel S, Schoeps S, eds. Progress in Differential-Algebraic Equations II. "
               "Springer 2020:165-184; 6 stages, stiffly accurate, embedded order 3, no "
               "order reduction on the Prothero-Robinson problem",
        gamma=0.25,
        alpha=(0.0, 0.75, 0.321448134013046, 0.519745732277726, 1.0, 1.0),
        gamma_i=(0.25, -0.5, -0.189532918363016, 0.085612108792769, 0.0, 0.0),
        A=(3.0,
           0.906377755268814, -0.189707390391685,
           3.758617027739064, 1.161741776019525, -0.849258085312803,
           7.089566927282776, 4.573591406461604, -8.423496976860259, -0.959280113459775,
           7.089566927282776, 4.573591406461604, -8.423496976860259, -0.959280113459775,
           1.0),
        C=(-12.0,
           -6.354581592719008, 0.338972550544623,
           -8.575016317114033, -7.606483992117508, 12.22499765012482,
           -5.888975457523102, -8.157396617841821, 24.805546872612922, 12.790401512796979,
           -4.408651676063871, -6.692003137674639, 24.625568527593117, 16.627521966636085,
           -5.714285714285718),
        M=(7.089566927282776, 4.573591406461604, -8.423496976860259, -0.959280113459775,
           1.0, 1.0),
        E=(0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
        newf=(True,) * 6, elo=4.0),
    "rodas5p": Tableau(
        name="Rodas5P", order=5,
        source="Steinebach G. Construction of Rosenbrock-Wanner method Rodas5P and "
               "numerical benchmarks within the Julia Differential Equations package. BIT "
               "Numer Math 2023;63:27; 8 stages, stiffly accurate, embedded order 4",
        gamma=0.21193756319429014,
        alpha=(0.0, 0.6358126895828704, 0.4095798393397535, 0.9769306725060716,
               0.4288403609558664, 1.0, 1.0, 1.0),
        gamma_i=(0.21193756319429014, -0.42387512638858027, -0.3384627126235924,
                 1.8046452872882734, 2.325825639765069, 0.0, 0.0, 0.0),
        A=(3.0,
           2.849394379747939, 0.45842242204463923,
           -6.954028509809101, 2.489845061869568, -10.358996098473584,
           2.8029986275628964, 0.5072464736228206, -0.3988312541770524,
           -0.04721187230404641,
           -7.502846399306121, 2.561846144803919, -11.627539656261098,
           -0.18268767659942256, 0.030198172008377946,
           -7.502846399306121, 2.561846144803919, -11.627539656261098,
           -0.18268767659942256, 0.030198172008377946, 1.0,
           -7.502846399306121, 2.561846144803919, -11.627539656261098,
           -0.18268767659942256, 0.030198172008377946, 1.0, 1.0),
        C=(-14.155112264123755,
           -17.97296035885952, -2.859693295451294,
           147.12150275711716, -1.41221402718213, 71.68940251302358,
           165.43517024871676, -0.4592823456491126, 42.90938336958603, -5.961986721573306,
           24.854864614690072, -3.0009227002832186, 47.4931110020768, 5.5814197821558125,
           -0.6610691825249471,
           30.91273214028599, -3.1208243349937974, 77.79954646070892, 34.28646028294783,
           -19.097331116725623, -28.087943162872662,
           37.80277123390563, -3.2571969029072276, 112.26918849496327, 66.9347231244047,
           -40.06618937091002, -54.66780262877968, -9.48861652309627),
        M=(-7.502846399306121, 2.561846144803919, -11.627539656261098,
           -0.18268767659942256, 0.030198172008377946, 1.0, 1.0, 1.0),
        E=(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
        newf=(True,) * 8, elo=5.0),
    "ros4": Tableau(
        name="ROS4", order=4,
        source="Hairer E, Wanner G. Solving ODEs II, 2nd ed. Springer 1996, IV.7 (ros4.f, "
               "L-stable set); 4 stages, 3 right-hand sides, embedded order 3",
        gamma=0.57282,
        alpha=(0.0, 1.14564, 0.65521686381559, 0.65521686381559),
        gamma_i=(0.57282, -1.769193891319233, 0.7592633437920482, -0.104902108710045),
        A=(2.0, 1.867943637803922, 0.2344449711399156, 1.867943637803922,
           0.2344449711399156, 0.0),
        C=(-7.13761503641231, 2.580708087951457, 0.6515950076447975, -2.137148994382534,
           -0.3214669691237626, -0.6949742501781779),
        M=(2.255570073418735, 0.2870493262186792, 0.435317943184018, 1.093502252409163),
        E=(-0.2815431932141155, -0.0727619912493892, -0.1082196201495311,
           -1.093502252409163),
        newf=(True, True, True, False), elo=4.0),
    "rodas3": Tableau(
        name="RODAS3", order=3,
        source="Sandu A et al. Benchmarking stiff ODE solvers for atmospheric chemistry "
               "problems II: Rosenbrock solvers. Atmos Environ 1997;31:3459; 4 stages, "
               "3 right-hand sides, stiffly accurate, embedded order 2",
        gamma=0.5,
        alpha=(0.0, 0.0, 1.0, 1.0),
        gamma_i=(0.5, 1.5, 0.0, 0.0),
        A=(0.0, 2.0, 0.0, 2.0, 0.0, 1.0),
        C=(4.0, 1.0, -1.0, 1.0, -1.0, -8.0 / 3.0),
        M=(2.0, 0.0, 1.0, 1.0),
        E=(0.0, 0.0, 0.0, 1.0),
        newf=(True, False, True, True), elo=3.0),
    "ros3": Tableau(
        name="ROS3", order=3,
        source="Sandu A et al. Atmos Environ 1997;31:3459; 3 stages, 2 right-hand sides, "
               "L-stable, embedded order 2",
        gamma=_G3,
        alpha=(0.0, _G3, _G3),
        gamma_i=(_G3, 0.24291996454816804366592249683314, 2.1851380027664058511513169485832),
        A=(1.0, 1.0, 0.0),
        C=(-1.0156171083877702091975600115545, 4.0759956452537699824805835358067,
           9.2076794298330791242156818474003),
        M=(1.0, 6.1697947043828245592553615689730, -0.42772256543218573326238373806514),
        E=(0.5, -2.9079558716805469821718236208017, 0.22354069897811569627360909276199),
        newf=(True, True, False), elo=3.0),
}




#: the method the package compiles (chosen by measurement, docs/ENGINE.md)
DEFAULT_METHOD = "rodas4"
