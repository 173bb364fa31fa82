"""Per-tile PIM attention timing in the NeuPIMs simulator (casys-kaist/NeuPIMs + extern/NewtonSim),
restated for one otherwise idle channel, refresh ignored.  Stdlib only; run: python newton_pim_timing.py

Two modes:
  DUAL   (NeuPIMs, pim_type=DUAL, NeuPIMSController)  per tile: P_HEADER + k x PIM_COMPS_READRES
  SINGLE (Newton,  pim_type=SINGLE, NewtonController) per tile: P_HEADER + k x (n x COMP + READRES)
Commits: A=1092220f (main), B=e51a4af5 (npu+pim), C=57617ee0 (the commit the index stores for some files;
the NewtonSim files have one stored version each).
A stdlib re-implementation of the bank/channel/queue logic (not part of this repo) reproduced every
number below cycle for cycle.
"""

from math import ceil

# ---- DRAM parameters: extern/NewtonSim/configs/HBM2_8Gb_x128_{dual,single}pim.ini (identical timings) ----
CL, tRCDRD, tRP, tRAS, tFAW, tCCD_S, tCCD_L, BL = 14, 14, 14, 34, 30, 1, 2, 4
# The ini sets tRTP_L/tRTP_S, but Config::InitTimingParams (configuration.cc@C) reads only
# "tRTP": its default, 5.
tRTP = 5
BURST = BL // 2  # Config::InitDRAMParams: burst_cycle = BL/2 for HBM
# Config::CalculateSize: 1 KB row x 32768 rows x 16 banks = 512 MB/rank; 1024 MB/ch
RANKS, BGS, BPG = 2, 4, 4
# -> 32 banks (= dram_banks_per_ch in neupims.json/newton.json)
BANKS = RANKS * BGS * BPG
# timing.cc@A Timing::Timing read_to_read_s = 2 (COMP->COMP, READRES->COMP...)
R2R_S = max(BURST, tCCD_S)
# read_to_precharge = AL + tRTP = 5 (READRES/COMPS_READRES -> (PIM_)PRECHARGE)
R2PRE = tRTP
READ_DELAY = CL + BURST  # read_delay = RL + burst = 16 (READRES/COMPS_READRES completion)
# Config::InitTimingParams: gwrite_delay = 96 (GWRITE -> done)
GWRITE_DELAY = (tCCD_S + tCCD_L) * 32

# ---- Workload shape (GPT3-7B, n_tp=4): configs/memory_configs/neupims.json@A, model_configs/gpt3-7B.json@A ----
PAGE = 1024 // 2  # dram_page_size / precision = 512 fp16 elements per row
DK, COVER = 128, 16  # head dim; pim_comp_coverage = 16 elements per COMP
# NeuPIMSLogitSoftmax::calculate_loops@B: _heads_per_tile = 4
HEADS_PER_TILE_K = PAGE // DK
COMPS_PER_HEAD_K = DK // COVER  # _comps_per_head = 8  -> K tile = 32 tokens x 4 heads
# NeuPIMSAttend::initialize_instructions@B: num_comps = 32 per 512-token chunk, in
# _tiles_per_chunk = 4 tiles of 32 head dims each.
COMPS_V = PAGE // COVER
TILES_PER_V_ROW = DK // BANKS
# 8 heads per device -> _chunks = 1024/512 = 2 K GWRITEs/request
HEADS_PER_DEV = 32 // 4

# ---- Row switch, common to both modes (every tile uses a new row: PIMTensor::_rows[ti*chunks+ci]) ----
# X = issue of the previous tile's last READRES / COMPS_READRES.
#  +5   first row close: P_HEADER's GetReadyCommand needs every bank closed; per bank it returns
#       PIM_PRECHARGE (DUAL, bankstate.cc@B GetReadyPIMCommand) or PRECHARGE (SINGLE, GetReadyCommandSingle),
#       allowed R2PRE after READRES/COMPS_READRES (timing.cc@A same_rank[READRES|COMPS_READRES]).
#  +32  one precharge per bank per controller cycle (ChannelState::GetReadyCommand@A); P_HEADER issues
#       in the cycle after the last one (IssueCommand returns early for it, but it uses the cycle).
#  +1   first G_ACT (COMP/COMPS_READRES on a closed bank -> G_ACT for that bank group).
#  +91  8 G_ACTs: same_rank[G_ACT] = {G_ACT: tFAW} -> 3 x 30 per rank, the 2 ranks interleaved (+1).
#  +14  G_ACT -> COMP/COMPS_READRES = tRCDRD; the channel command waits for all 32 banks.
ROW_SWITCH = R2PRE + BANKS + 1 + (BGS - 1) * tFAW + (RANKS - 1) + tRCDRD  # = 143


def comps_window(n):
    """Time between back-to-back channel compute groups of n COMPs (2 cycles per COMP + readout)."""
    # DUAL: ChannelState::UpdateChannelTiming@A: next COMPS_READRES >= clk + comp_to_comp*(max(n,6)+1)
    # SINGLE: COMP->COMP 2, last COMP->READRES 2, READRES->COMP 2 (same_rank[COMP|READRES]) = 2(n+1)
    return R2R_S * (max(n, 6) + 1)


def tile_dual(groups, n):
    # PIM_PRECHARGE only waits R2PRE after the *issue* of the last COMPS_READRES, so the last group's
    # 2(n+1) compute window overlaps the next tile's precharge/G_ACT phase.
    return ROW_SWITCH + (groups - 1) * comps_window(n)


def tile_single(groups, n):
    # COMPs are separate commands; the row can close only R2PRE after the last READRES.
    return ROW_SWITCH + groups * comps_window(n) - R2R_S


# ---- GWRITE: one bank (0,0,0), row 0 (NeuPIMSLogitSoftmax/NeuPIMSAttend "FIXME: gwrite addr") ----
# The queue blocks every later PIM command until ReturnDoneTrans sees clk >= issue + gwrite_delay
# (neupims_/newton_command_queue.cc GetReadyInPIMQueue 'is_gwriting_', FinishGwrite).
# Cost below = extra time between two tiles when a GWRITE sits between them (the R2PRE gap is dropped).
# DUAL: row 0 stays open in the normal buffer -> GWRITE allowed R2R_S after COMPS_READRES.
GW_DUAL = R2R_S + GWRITE_DELAY - R2PRE  # = 93
# SINGLE: the PIM row is open in the only buffer -> PRECHARGE(+R2PRE), ACTIVATE(+tRP), GWRITE(+tRCDRD).
GW_SINGLE = R2PRE + tRP + tRCDRD + GWRITE_DELAY - R2PRE  # = 124


def summary(name, gw, tile_k, tile_v_full):
    k_per_tok = tile_k / (BANKS * HEADS_PER_TILE_K)  # 32 tokens x 4 heads per K tile
    v_row = gw + TILES_PER_V_ROW * tile_v_full  # one 512-token row of one head
    per_tok = k_per_tok + v_row / PAGE
    fixed = gw / HEADS_PER_TILE_K + tile_k / (2 * HEADS_PER_TILE_K) + v_row  # Algorithm 1 layout
    print(
        f"{name:<22} GWRITE {gw:6.1f}  K tile {tile_k:6.1f}  V tile {tile_v_full:6.1f}  "
        f"V row/head {v_row:6.1f}  per-token-per-head {per_tok:6.3f}  fixed/req/head {fixed:7.1f}"
    )
    return per_tok, fixed


def request_cycles(mode, L):
    """Exact per-request cycles (all 8 heads on one channel), ceil()s as in the simulator."""
    if mode == "alg1":
        return 2 * 100 + 2 * ceil(L / 32) * 184 + HEADS_PER_DEV * ceil(L / PAGE) * (100 + 4 * 184)
    if mode == "dual":  # V tile cost does not depend on num_comps (see tile_dual)
        return (
            2 * GW_DUAL
            + 2 * ceil(L / 32) * tile_dual(4, 8)
            + HEADS_PER_DEV * ceil(L / PAGE) * (GW_DUAL + 4 * ROW_SWITCH)
        )
    # SINGLE: the last chunk's tiles have num_comps = ceil((L % 512)/16) COMPs (NeuPIMSAttend@B), each +2
    return (
        2 * GW_SINGLE
        + 2 * ceil(L / 32) * tile_single(4, 8)
        + HEADS_PER_DEV
        * (
            ceil(L / PAGE) * (GW_SINGLE + 4 * ROW_SWITCH)
            + TILES_PER_V_ROW * R2R_S * ceil(L / COVER)
        )
    )


if __name__ == "__main__":
    print(f"row switch (precharge 32 banks + P_HEADER + 8 G_ACT + tRCD) = {ROW_SWITCH} cycles")
    print(
        f"K tile: {HEADS_PER_TILE_K} groups x {COMPS_PER_HEAD_K} COMPs; V tile: 1 group x {COMPS_V} COMPs\n"
    )
    a_tok, a_fix = summary("Algorithm 1 (100/184)", 100, 184, 184)
    d_tok, d_fix = summary(
        "DUAL   (NeuPIMs)",
        GW_DUAL,
        tile_dual(HEADS_PER_TILE_K, COMPS_PER_HEAD_K),
        tile_dual(1, COMPS_V),
    )
    s_tok, s_fix = summary(
        "SINGLE (Newton)",
        GW_SINGLE,
        tile_single(HEADS_PER_TILE_K, COMPS_PER_HEAD_K),
        tile_single(1, COMPS_V),
    )
    print(f"\nratio SINGLE/DUAL: per-token {s_tok / d_tok:.3f}   fixed {s_fix / d_fix:.3f}")
    print(f"ratio DUAL/Alg1:   per-token {d_tok / a_tok:.3f}   fixed {d_fix / a_fix:.3f}")
    # 184 is reproduced by the simulator's own refresh-deadline estimate of a V tile with no precharge
    # (ChannelState::EstimatePIMOperationLatency@A: tFAW*(8/2-1) + tRCDRD + 2*num_comps) plus read_delay:
    print(
        f"EstimatePIMOperationLatency(V tile, rows closed) + read_delay = "
        f"{tFAW * (8 // 2 - 1) + tRCDRD + R2R_S * COMPS_V + READ_DELAY}"
    )
    print("\nexact per-request cycles (8 heads, one channel):")
    print(f"{'L':>6} {'Alg1':>8} {'DUAL':>8} {'SINGLE':>8} {'S/D':>6}")
    for L in (128, 512, 1000, 2048):
        a, d, s = (request_cycles(m, L) for m in ("alg1", "dual", "single"))
        print(f"{L:>6} {a:>8} {d:>8} {s:>8} {s / d:>6.3f}")
