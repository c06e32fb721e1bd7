using Vmm.Core.Costs;
using Vmm.Core.Machine;

namespace Vmm.Plugins.Tdx.Tests.Infrastructure;

/// <summary>What a memory controller's constructor takes in unit tests: real DRAM contents (or contents-free ones) and a real ledger, nothing else.</summary>
internal sealed class ControllerHost(long frames = 16, bool contentsFree = false)
{
    public PhysicalMemory Physical { get; } = contentsFree ? PhysicalMemory.ContentsFree(frames) : new(frames);
    public CostLedger CostLedger { get; } = new();
}
