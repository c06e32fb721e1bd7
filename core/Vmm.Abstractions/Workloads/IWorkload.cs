namespace Vmm.Abstractions;

/// <summary>
/// A seeded, deterministic generator of one run for comparisons: the VMs and the scenario ops (the same ops a
/// scenario file uses, so every run can be written out as a file that <c>vmm run</c> replays). A workload knows
/// nothing of the stack it runs under: every design sees the same ops.
/// </summary>
public interface IWorkload
{
    /// <summary>Writes the run's VMs and steps into <paramref name="scenario"/>; the same seed and options write the same scenario.</summary>
    void Write(ScenarioWriter scenario, WorkloadContext context);
}

/// <summary>What a workload run is seeded with: <see cref="Random"/> is the only source of randomness a workload may use.</summary>
public sealed class WorkloadContext(int seed)
{
    public int Seed { get; } = seed;

    public Random Random { get; } = new(seed);
}
