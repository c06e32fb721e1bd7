namespace Vmm.Abstractions;

/// <summary>si_code values of SIGBUS (include/uapi/asm-generic/siginfo.h).</summary>
public enum SigBusCode
{
    BUS_ADRERR = 2,
    BUS_OBJERR = 3,
    BUS_MCEERR_AR = 4,
    BUS_MCEERR_AO = 5,
    /// <summary>A plain force_sig(SIGBUS), without address or lsb (scenario-format.md, added 2026-12).</summary>
    SI_KERNEL = 0x80,
}

/// <summary>errno values the simulated syscalls return (asm-generic/errno*.h).</summary>
public enum Errno
{
    EPERM = 1,
    ENOENT = 2,
    ESRCH = 3,
    EINTR = 4,
    EIO = 5,
    ENXIO = 6,
    E2BIG = 7,
    EAGAIN = 11,
    ENOMEM = 12,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    ENODEV = 19,
    EINVAL = 22,
    ESPIPE = 29,
    EFBIG = 27,
    ENOSPC = 28,
    ENOSYS = 38,
    EOPNOTSUPP = 95,
    EHWPOISON = 133,
}

public enum OutcomeKind
{
    Ok,
    SigBus,
    Errno,
    KvmExit,
    GuestMce,
    GuestKilled,
    HostPanic,
    Shutdown,
    Killed,
    NotRun,
    State,
    /// <summary>The guest took a #VC (SEV-SNP): it detected the host's change to its page (scenario-format.md, added 2026-12).</summary>
    GuestVc,
}

/// <summary>What a step observed, as a value (the contract's outcome JSON, docs/scenario-format.md).</summary>
public sealed record Outcome
{
    public OutcomeKind Kind { get; private init; }
    /// <summary>Data read, for <see cref="OutcomeKind.Ok"/>; null when the op returns no data.</summary>
    public byte[]? Data { get; private init; }
    /// <summary>Count for GUP and short transfers; null when not applicable.</summary>
    public long? Count { get; private init; }
    public SigBusCode SigBusCode { get; private init; }
    /// <summary>si_addr_lsb of a SIGBUS (0 when the signal carries none).</summary>
    public int Lsb { get; private init; }
    /// <summary>si_addr of a SIGBUS.</summary>
    public Hva Address { get; private init; }
    public Errno? Errno { get; private init; }
    public string? ExitReason { get; private init; }
    public IReadOnlyList<string> ExitFlags { get; private init; } = [];
    public Gpa ExitGpa { get; private init; }
    public ulong ExitSize { get; private init; }
    public string? Signal { get; private init; }
    /// <summary>Why the machine ended or the guest died (free text for people).</summary>
    public string? Reason { get; private init; }
    public IReadOnlyDictionary<string, object?>? State { get; private init; }

    public static readonly Outcome OkEmpty = new() { Kind = OutcomeKind.Ok };
    public static readonly Outcome NotRun = new() { Kind = OutcomeKind.NotRun };

    public static Outcome Ok() => OkEmpty;
    public static Outcome OkData(byte[] data) => new() { Kind = OutcomeKind.Ok, Data = data };
    public static Outcome OkCount(long count) => new() { Kind = OutcomeKind.Ok, Count = count };
    public static Outcome OkDataCount(byte[] data, long count) => new() { Kind = OutcomeKind.Ok, Data = data, Count = count };
    public static Outcome SigBus(SigBusCode code, Hva address, int lsb) => new() { Kind = OutcomeKind.SigBus, SigBusCode = code, Address = address, Lsb = lsb };
    public static Outcome Error(Errno errno) => new() { Kind = OutcomeKind.Errno, Errno = errno };
    public static Outcome KvmExit(string reason, IReadOnlyList<string> flags, Gpa gpa, ulong size, Errno errno)
        => new() { Kind = OutcomeKind.KvmExit, ExitReason = reason, ExitFlags = flags, ExitGpa = gpa, ExitSize = size, Errno = errno };
    public static Outcome GuestMce(string reason) => new() { Kind = OutcomeKind.GuestMce, Reason = reason };
    public static Outcome GuestKilled(string reason) => new() { Kind = OutcomeKind.GuestKilled, Reason = reason };
    public static Outcome GuestVc(string reason) => new() { Kind = OutcomeKind.GuestVc, Reason = reason };
    public static Outcome HostPanic(string reason) => new() { Kind = OutcomeKind.HostPanic, Reason = reason };
    public static Outcome Shutdown(string reason) => new() { Kind = OutcomeKind.Shutdown, Reason = reason };
    public static Outcome Killed(string signal) => new() { Kind = OutcomeKind.Killed, Signal = signal };
    public static Outcome Inspected(IReadOnlyDictionary<string, object?> state) => new() { Kind = OutcomeKind.State, State = state };

    /// <summary>True for outcomes after which the machine runs nothing more.</summary>
    public bool EndsMachine => Kind is OutcomeKind.HostPanic or OutcomeKind.Shutdown;

    public override string ToString() => Kind switch
    {
        OutcomeKind.Ok when Data is not null => $"ok data=0x{Convert.ToHexString(Data.Length > 32 ? Data[..32] : Data).ToLowerInvariant()}{(Data.Length > 32 ? "…" : "")}",
        OutcomeKind.Ok when Count is not null => $"ok count={Count}",
        OutcomeKind.Ok => "ok",
        OutcomeKind.SigBus => $"SIGBUS {SigBusCode} lsb {Lsb} at {Address}",
        OutcomeKind.Errno => $"{Errno}",
        OutcomeKind.KvmExit => $"KVM exit {ExitReason} [{string.Join(',', ExitFlags)}] gpa {ExitGpa} size 0x{ExitSize:x}, {Errno}",
        OutcomeKind.GuestMce => "guest-mce",
        OutcomeKind.GuestKilled => "guest-killed",
        OutcomeKind.GuestVc => "guest-vc",
        OutcomeKind.HostPanic => "host-panic",
        OutcomeKind.Shutdown => "shutdown",
        OutcomeKind.Killed => $"killed {Signal}",
        OutcomeKind.NotRun => "not-run",
        OutcomeKind.State => "state",
        _ => Kind.ToString(),
    };
}
