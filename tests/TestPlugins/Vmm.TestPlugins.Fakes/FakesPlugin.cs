using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;

namespace Vmm.TestPlugins.Fakes;

/// <summary>Registers one inert component of each kind ("test-memory", "test-policy", ...) for the hosting and CLI tests.</summary>
public sealed class FakesPlugin : IVmmPlugin
{
    public string Name => "Fakes";

    public void ConfigureServices(IServiceCollection services)
    {
        services.AddVmmComponent<IMemoryController, FakeMemory, FakeMemoryOptions>(ComponentKind.Memory, "test-memory", "Inert memory controller for tests.");
        services.AddVmmComponent<IPrivateMemoryPolicy, FakePolicy>(ComponentKind.Policy, "test-policy", "Policy that keeps every kernel default.");
        services.AddVmmComponent<IFaultDelivery, FakeFaults>(ComponentKind.Faults, "test-faults", "Delivers every event as a host panic.");
        services.AddVmmComponent<IPageTableFactory, FakePageTables>(ComponentKind.PageTable, "test-pagetable", "Page tables that are never walked.");
        services.AddVmmComponent<IHugePageStrategy, FakeThp>(ComponentKind.Thp, "test-thp", "Never maps huge.");
    }
}

public sealed class FakeMemoryOptions
{
    [Option("Lines the fake pretends to track.")]
    public int Lines { get; set; } = 64;

    [Option("Whether the fake is strict.")]
    public bool Strict { get; set; }
}

public sealed class FakeMemory(FakeMemoryOptions options) : IMemoryController
{
    public FakeMemoryOptions Options { get; } = options;
    public MemResult Read(in LineAccess access, Span<byte> destination) => MemResult.Ok;
    public MemResult Write(in LineAccess access, ReadOnlySpan<byte> source) => MemResult.Ok;
    public void Reinitialize(Pfn pfn, KeyId newKey) { }
    public void PoisonLine(Pfn pfn, int line) { }
    public void FlipBit(Pfn pfn, int line, int bit) { }
    public bool IsLinePoisoned(Pfn pfn, int line) => false;
    public int PoisonedLineCount(Pfn pfn) => 0;
    public void OnFrameFreed(Pfn pfn) { }
    public KeyId AssignPrivateKey(VmId vm) => KeyId.Shared;
    public GuestPageAssigned AssignGuestPage(in GuestPageAssignment assignment) => GuestPageAssigned.Page;
    public void OnGuestPageStateChange(in GuestPageStateChange change) { }
}

public sealed class FakePolicy : IPrivateMemoryPolicy;

public sealed class FakeFaults : IFaultDelivery
{
    public Outcome Deliver(in KernelEvent kernelEvent) => Outcome.HostPanic(kernelEvent.Reason);
}

public sealed class FakePageTables : IPageTableFactory
{
    public IPageTable Create() => throw new NotSupportedException("test double: never walked");
}

public sealed class FakeThp : IHugePageStrategy
{
    public bool AllowHugeMapping(VmInfo vm) => false;
    public bool PrepareSubpage(VmInfo vm, Hva hva, Pfn pfn) => true;
}
