using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;

namespace Vmm.Testing;

/// <summary>
/// Properties every <see cref="IMemoryController"/> keeps (docs/conformance.md). The controller is built as a run
/// builds it and driven on a <see cref="ConformanceMemory"/>; "the owner" is the VM the controller gives a private
/// KeyID (<see cref="IMemoryController.AssignPrivateKey"/>), which is the shared key on a controller without keys.
/// </summary>
public abstract class MemoryControllerConformance : ComponentConformance, IDisposable
{
    private const int Line = PageGeometry.LineSize;
    private const int Page = PageGeometry.PageSize;
    private static readonly Pfn FrameA = new(3);
    private static readonly Pfn FrameB = new(4);
    private static readonly VmId Owner = new(0);
    private static readonly VmId NextOwner = new(1);

    private IServiceScope? _run;
    private IMemoryController? _controller;

    public sealed override ComponentKind Kind => ComponentKind.Memory;

    protected ConformanceMemory Machine { get; } = new();

    protected IMemoryController Controller => _controller ??= ConformanceHost.CreateMemoryController(_run ??= ConformanceHost.CreateRunScope(ConformanceHost.ForMemory(PluginsFile)), ComponentName, Machine);

    /// <summary>(offset, length) pairs: whole frame, one line, across line boundaries, single bytes at both ends.</summary>
    public static TheoryData<int, int> Ranges => new()
    {
        { 0, Page },
        { 0, Line },
        { 60, 200 },
        { Page - Line, Line },
        { 1, 1 },
        { Page - 1, 1 },
    };

    [Theory]
    [InlineData(Requester.HostUser)]
    [InlineData(Requester.HostKernel)]
    [InlineData(Requester.Device)]
    [InlineData(Requester.Guest)]
    public void UntouchedFrame_ReadsAsZeros_WithTheSharedKey(Requester requester)
    {
        var read = Read(FrameA, 0, Page, KeyId.Shared, requester, out var bytes);
        Assert.True(read.IsOk, $"{requester} read of a frame nobody wrote: {read}");
        Assert.Equal(new byte[Page], bytes);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReinitializedFrame_ReadsAsZeros_ForItsNewOwner(bool owner)
    {
        var (key, requester) = Writer(owner, Owner);
        TakeFor(FrameA, key, Owner);
        var read = Read(FrameA, 0, Page, key, requester, out var bytes);
        Assert.True(read.IsOk, $"{requester} with {key} after Reinitialize: {read}");
        Assert.Equal(new byte[Page], bytes);
        Assert.Equal(0, Controller.PoisonedLineCount(FrameA));
    }

    [Theory]
    [MemberData(nameof(Ranges))]
    public void WriteThenRead_WithTheSharedKey_ReturnsTheBytesWritten(int offset, int length)
        => AssertRoundTrip(owner: false, offset, length);

    [Theory]
    [MemberData(nameof(Ranges))]
    public void WriteThenRead_WithTheOwnersKey_ReturnsTheBytesWritten(int offset, int length)
        => AssertRoundTrip(owner: true, offset, length);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Writes_ToTwoFramesAndOverlappingRanges_KeepEachByteWhereItWasWritten(bool owner)
    {
        var (key, requester) = Writer(owner, Owner);
        TakeFor(FrameA, key, Owner);
        TakeFor(FrameB, key, Owner);
        var a = Pattern(1, Page);
        var b = Pattern(2, Page);
        Assert.True(Write(FrameA, 0, a, key, requester).IsOk);
        Assert.True(Write(FrameB, 0, b, key, requester).IsOk);
        var patch = Pattern(3, 100);
        Assert.True(Write(FrameA, 1000, patch, key, requester).IsOk);
        patch.CopyTo(a, 1000);

        Assert.True(Read(FrameA, 0, Page, key, requester, out var readA).IsOk);
        Assert.True(Read(FrameB, 0, Page, key, requester, out var readB).IsOk);
        Assert.Equal(a, readA);
        Assert.Equal(b, readB);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PoisonedLine_IsNeverReturnedAsGoodData_AndItsNeighboursAreUnaffected(bool owner)
    {
        var (key, requester) = Writer(owner, Owner);
        var data = Pattern(4, Page);
        TakeFor(FrameA, key, Owner);
        Assert.True(Write(FrameA, 0, data, key, requester).IsOk);
        const int poisoned = 7;
        Controller.PoisonLine(FrameA, poisoned);

        foreach (var (readKey, reader) in Readers(key, requester))
        {
            foreach (var (offset, length) in new[] { (poisoned * Line, Line), (poisoned * Line + 5, 1), ((poisoned - 1) * Line + 32, 2 * Line), (0, Page) })
            {
                for (var attempt = 0; attempt < 2; attempt++)
                {
                    var read = Read(FrameA, offset, length, readKey, reader, out _);
                    Assert.False(read.IsOk, $"{reader} with {readKey} read [{offset}, {offset + length}) over poisoned line {poisoned} and got {read.Status} (attempt {attempt + 1})");
                    Assert.Equal(poisoned, read.Line);
                }
            }
        }

        foreach (var neighbour in new[] { poisoned - 1, poisoned + 1 })
        {
            var read = Read(FrameA, neighbour * Line, Line, key, requester, out var bytes);
            Assert.True(read.IsOk, $"line {neighbour} beside the poisoned line {poisoned}: {read}");
            Assert.Equal(data.AsSpan(neighbour * Line, Line).ToArray(), bytes);
            Assert.False(Controller.IsLinePoisoned(FrameA, neighbour));
        }
        Assert.True(Controller.IsLinePoisoned(FrameA, poisoned));
        Assert.Equal(1, Controller.PoisonedLineCount(FrameA));
        Controller.PoisonLine(FrameA, poisoned);
        Assert.Equal(1, Controller.PoisonedLineCount(FrameA));
    }

    [Fact]
    public void PoisonedLine_StaysInItsFrame()
    {
        Assert.True(Write(FrameB, 0, Pattern(5, Page), KeyId.Shared, Requester.HostUser).IsOk);
        Controller.PoisonLine(FrameA, 7);
        var read = Read(FrameB, 0, Page, KeyId.Shared, Requester.HostUser, out var bytes);
        Assert.True(read.IsOk, $"frame B beside poisoned frame A: {read}");
        Assert.Equal(Pattern(5, Page), bytes);
        Assert.Equal(0, Controller.PoisonedLineCount(FrameB));
    }

    /// <summary>The next owner after a free (<see cref="IMemoryController.OnFrameFreed"/> first) or after a conversion (Reinitialize alone).</summary>
    public static TheoryData<bool, bool, bool> Handovers()
    {
        var data = new TheoryData<bool, bool, bool>();
        foreach (var freed in new[] { true, false })
            foreach (var ownerWasPrivate in new[] { false, true })
                foreach (var nextIsPrivate in new[] { false, true })
                    data.Add(freed, ownerWasPrivate, nextIsPrivate);
        return data;
    }

    [Theory]
    [MemberData(nameof(Handovers))]
    public void FreedOrConvertedFrame_ReinitialisedForTheNextOwner_HoldsNoStaleDataAndNoPoison(bool freed, bool ownerWasPrivate, bool nextIsPrivate)
    {
        var (key, requester) = Writer(ownerWasPrivate, Owner);
        var old = Pattern(6, Page);
        TakeFor(FrameA, key, Owner);
        Assert.True(Write(FrameA, 0, old, key, requester).IsOk);
        Controller.PoisonLine(FrameA, 3);

        if (freed) Controller.OnFrameFreed(FrameA);
        // KVM hands a private page to another VM only through the host (TDH.PHYMEM.PAGE.RECLAIM, RMPUPDATE to the hypervisor).
        else if (ownerWasPrivate && nextIsPrivate) Controller.Reinitialize(FrameA, KeyId.Shared);
        var (nextKey, nextRequester) = Writer(nextIsPrivate, NextOwner);
        TakeFor(FrameA, nextKey, NextOwner);

        var read = Read(FrameA, 0, Page, nextKey, nextRequester, out var bytes);
        Assert.True(read.IsOk, $"the next owner ({nextRequester}, {nextKey}) read its fresh frame: {read}");
        Assert.Equal(new byte[Page], bytes);
        Assert.Equal(0, Controller.PoisonedLineCount(FrameA));
        for (var line = 0; line < PageGeometry.LinesPerPage; line++) Assert.False(Controller.IsLinePoisoned(FrameA, line));
        foreach (var (readKey, reader) in Readers(nextKey, nextRequester))
        {
            if (Read(FrameA, 0, Page, readKey, reader, out var seen).IsOk)
                for (var line = 0; line < PageGeometry.LinesPerPage; line++)
                    Assert.False(seen.AsSpan(line * Line, Line).SequenceEqual(old.AsSpan(line * Line, Line)), $"{reader} with {readKey} read the previous owner's line {line}");
        }
    }

    /// <summary>Through the engine: after a real memory error on a frame, no read path hands its data back as good.</summary>
    [Theory]
    [InlineData("host.read")]
    [InlineData("kernel.read")]
    [InlineData("device.dma-read")]
    [InlineData("guest.read")]
    public void MemoryError_ThenRead_NeverReturnsTheLineAsGoodData(string op)
    {
        var scenario = new ConformanceScenario($"conformance: memory {ComponentName}: {op} after a memory error")
            .Component("memory", ComponentName)
            .Component("policy", "none")
            .Vm("vm1", "8M");
        scenario.Step(new { op = "host.write", vm = "vm1", gpa = "0x1000", data = ConformanceScenario.Pattern(7, Page) });
        var neighbourData = ConformanceScenario.Pattern(8, Page);
        scenario.Step(new { op = "host.write", vm = "vm1", gpa = "0x2000", data = neighbourData });
        scenario.Step(new { op = "hw.memory-error", vm = "vm1", gpa = "0x1040" });
        var neighbour = scenario.Step(new { op, vm = "vm1", gpa = "0x2000", len = Page });
        var poisoned = scenario.Step(new { op, vm = "vm1", gpa = "0x1040", len = Line });
        var run = scenario.Run(Host);

        Assert.True(run[neighbour].IsOk && run[neighbour].Data == neighbourData, $"the frame beside the failed one: {run[neighbour]}\n{run.ScenarioText}");
        Assert.False(run[poisoned].IsOk, $"{op} of the line a memory error poisoned: {run[poisoned]}\n{run.ScenarioText}");
    }

    public void Dispose()
    {
        _run?.Dispose();
        GC.SuppressFinalize(this);
    }

    private void AssertRoundTrip(bool owner, int offset, int length)
    {
        var (key, requester) = Writer(owner, Owner);
        TakeFor(FrameA, key, Owner);
        var data = Pattern(offset + length, length);
        var write = Write(FrameA, offset, data, key, requester);
        Assert.True(write.IsOk, $"{requester} write with {key}: {write}");
        var read = Read(FrameA, offset, length, key, requester, out var bytes);
        Assert.True(read.IsOk, $"{requester} read back with {key}: {read}");
        Assert.Equal(data, bytes);
    }

    /// <summary>
    /// Gives the frame to its next owner as KVM does: a private key's page is assigned to the guest first
    /// (<see cref="IMemoryController.AssignGuestPage"/>, at gfn = pfn), then re-initialised for the key.
    /// </summary>
    private void TakeFor(Pfn pfn, KeyId key, VmId vm)
    {
        if (!key.IsShared)
        {
            var taken = Controller.AssignGuestPage(new GuestPageAssignment(vm, key, new Gfn(pfn.Value), pfn, MappingSize.Size4K, RangePrivate: false));
            Assert.True(taken == GuestPageAssigned.Page, $"{ComponentName} refused {pfn} for {vm} with {key}: {taken}");
        }
        Controller.Reinitialize(pfn, key);
    }

    /// <summary>The owner's private KeyID and the guest, or the shared key and the VMM.</summary>
    private (KeyId Key, Requester Requester) Writer(bool owner, VmId vm)
    {
        if (!owner) return (KeyId.Shared, Requester.HostUser);
        var key = Controller.AssignPrivateKey(vm);
        return (key, key.IsShared ? Requester.HostUser : Requester.Guest);
    }

    /// <summary>The writer and every shared-key reader the host has.</summary>
    private static IEnumerable<(KeyId, Requester)> Readers(KeyId key, Requester requester)
    {
        yield return (key, requester);
        foreach (var reader in new[] { Requester.HostUser, Requester.HostKernel, Requester.Device })
            if (reader != requester || !key.IsShared) yield return (KeyId.Shared, reader);
    }

    private MemResult Read(Pfn pfn, int offset, int length, KeyId key, Requester requester, out byte[] bytes)
    {
        bytes = new byte[length];
        return Controller.Read(Access(pfn, offset, key, requester), bytes);
    }

    private MemResult Write(Pfn pfn, int offset, byte[] data, KeyId key, Requester requester)
        => Controller.Write(Access(pfn, offset, key, requester), data);

    /// <summary>A guest access names its gpa: gfn = pfn, as <see cref="TakeFor"/> assigned it.</summary>
    private static LineAccess Access(Pfn pfn, int offset, KeyId key, Requester requester)
        => new(pfn, offset, key, requester, Gpa: requester == Requester.Guest ? new Gpa(pfn.Value << PageGeometry.PageShift) : default);

    private static byte[] Pattern(int seed, int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++) bytes[i] = (byte)(0x5a ^ (seed * 31 + i * 7 + 1));
        return bytes;
    }
}
