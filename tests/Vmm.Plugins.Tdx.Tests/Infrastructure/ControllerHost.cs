using Vmm.Core.Costs;
using Vmm.Core.Machine;

namespace Vmm.Plugins.Tdx.Tests.Infrastructure;

/// <summary>What a memory controller's constructor takes in unit tests: real DRAM contents and a real ledger, nothing else.</summary>
internal sealed class ControllerHost(long frames = 16)
{
    public PhysicalMemory Physical { get; } = new(frames);
    public CostLedger CostLedger { get; } = new();
}
