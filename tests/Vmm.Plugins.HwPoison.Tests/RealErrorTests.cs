using Vmm.Abstractions;
using Vmm.Plugins.HwPoison.Tests.Infrastructure;

namespace Vmm.Plugins.HwPoison.Tests;

/// <summary>
/// A real memory error on a frame hwpoison-v2 already poisoned, then a share: as posted the two kinds of
/// poison are one (the reviewers' objection) and the share hands the bad frame back; with
/// hwpoison.trackReason the VMM hears of the error and the frame stays poisoned.
/// </summary>
public class RealErrorTests
{
    private const ulong Gpa = 0x2000;

    private static PolicyMachine ShareAfterRealError(MemoryKind memory, bool trackReason, out Outcome memoryError)
    {
        var m = PolicyMachine.Create([PolicyMachine.Vm("td1")], memory, PolicyMachine.V2(new HwPoisonOptions { TrackReason = trackReason }));
        Expect.Ok(m.GuestWrite("td1", Gpa, [1, 2, 3]));
        memoryError = m.Run("hw.memory-error", "td1", Gpa, consumed: false);
        Expect.Ok(m.Convert("td1", Gpa, PolicyMachine.Page, toPrivate: false));
        return m;
    }

    [Theory]
    [InlineData(MemoryKind.Plain)]
    [InlineData(MemoryKind.TdxCi)]
    public void MemoryError_OnPolicyPoisonedFrame_AsPosted_IsSilentlyAlreadyPoisoned(MemoryKind memory)
    {
        ShareAfterRealError(memory, trackReason: false, out var memoryError);

        Expect.Error(Errno.EHWPOISON, memoryError);
    }

    [Theory]
    [InlineData(MemoryKind.Plain)]
    [InlineData(MemoryKind.TdxCi)]
    public void MemoryError_OnPolicyPoisonedFrame_WithTrackReason_TellsTheVmmAtOnce(MemoryKind memory)
    {
        var m = ShareAfterRealError(memory, trackReason: true, out var memoryError);

        Expect.SigBus(SigBusCode.BUS_MCEERR_AO, 12, memoryError, m.HvaOf("td1", Gpa));
    }

    [Fact]
    public void ProcMemRead_AfterShare_OnPlainMemory_AsPosted_ConsumesTheRealErrorAndPanicsTheHost()
    {
        var m = ShareAfterRealError(MemoryKind.Plain, trackReason: false, out _);

        var outcome = m.Run("host.procmem-read", "td1", Gpa, len: 8);

        Assert.Equal(OutcomeKind.HostPanic, outcome.Kind);
        Assert.True(m.Simulation.Ended);
    }

    [Theory]
    [InlineData(MemoryKind.Plain)]
    [InlineData(MemoryKind.TdxCi)]
    public void ProcMemRead_AfterShare_WithTrackReason_IsEioBecauseTheBadFrameStaysPoisoned(MemoryKind memory)
    {
        var m = ShareAfterRealError(memory, trackReason: true, out _);

        Expect.Error(Errno.EIO, m.Run("host.procmem-read", "td1", Gpa, len: 8));
        Assert.True((m.Kernel.Mm.GetFlags(m.FrameOf("td1", Gpa)) & FrameFlags.HwPoison) != 0);
        Assert.False(m.Simulation.Ended);
    }

    [Fact]
    public void ProcMemRead_AfterShare_OnTdxCi_AsPosted_ReadsZerosBecauseReclaimReinitialisedTheLines()
    {
        var m = ShareAfterRealError(MemoryKind.TdxCi, trackReason: false, out _);

        Assert.Equal(new byte[8], Expect.Data(m.Run("host.procmem-read", "td1", Gpa, len: 8)));
        Assert.Equal(0, m.Kernel.Memory.PoisonedLineCount(m.FrameOf("td1", Gpa)));
    }
}
