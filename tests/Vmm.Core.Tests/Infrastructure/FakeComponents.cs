using Vmm.Abstractions;

namespace Vmm.Core.Tests.Infrastructure;

/// <summary>Inert components for runner tests; the machine under test is a fake too, so none of these is exercised.</summary>
public sealed class FakeMemoryOptions
{
    [Option("Lines the fake pretends to track.")]
    public int Lines { get; set; } = 64;

    [Option("How the fake names itself.")]
    public string Label { get; set; } = "fake";

    public FakeMode Mode { get; set; } = FakeMode.Quiet;
}

public enum FakeMode
{
    Quiet,
    Loud,
}

/// <summary>A memory controller that stores nothing and reports every access fine; tests derive what they need to observe.</summary>
public abstract class InertMemoryController : IMemoryController
{
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

public sealed class FakeMemory(FakeMemoryOptions options) : InertMemoryController
{
    public FakeMemoryOptions Options { get; } = options;
}

public sealed class FakePolicy : IPrivateMemoryPolicy;

public sealed class OtherPolicy : IPrivateMemoryPolicy;

public sealed class FakeFaults : IFaultDelivery
{
    public Outcome Deliver(in KernelEvent kernelEvent) => Outcome.HostPanic(kernelEvent.Reason);
}

public sealed class FakePageTables : IPageTableFactory
{
    public IPageTable Create() => throw new NotSupportedException("never walked in runner tests");
}

public sealed class FakeThp : IHugePageStrategy
{
    public bool AllowHugeMapping(VmInfo vm) => false;
    public bool PrepareSubpage(VmInfo vm, Hva hva, Pfn pfn) => true;
}

/// <summary>A huge-page strategy that lets the VMM map every VM huge and never acts on a subpage (THP with no policy behind it).</summary>
public sealed class AlwaysHugeThp : IHugePageStrategy
{
    public bool AllowHugeMapping(VmInfo vm) => true;

    public bool PrepareSubpage(VmInfo vm, Hva hva, Pfn pfn) => true;
}
