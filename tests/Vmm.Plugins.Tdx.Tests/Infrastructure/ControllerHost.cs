using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Machine;

namespace Vmm.Plugins.Tdx.Tests.Infrastructure;

/// <summary>The machine a memory controller sees in unit tests: real DRAM contents and a real ledger, nothing else.</summary>
internal sealed class ControllerHost(long frames = 16) : IMemoryControllerHost
{
    public PhysicalMemory Physical { get; } = new(frames);
    public CostLedger CostLedger { get; } = new();
    public IPhysicalMemory Memory => Physical;
    public ICostLedger Ledger => CostLedger;
}
